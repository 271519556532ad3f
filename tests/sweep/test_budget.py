"""With several workers a budget is overshot by at most the trials already in flight (the bound in
sweep/budget.py and docs/sweep.md): each worker checks the shared study's spend and the sweep's deadline
right before every trial it starts, its first included."""

from datetime import datetime

import optuna

from thrifty.cli import main
from thrifty.sweep import storage

SPACE = {"train.learning_rate": {"low": 1e-4, "high": 3e-2, "log": True}}
WORKERS = 2


def study_of(out) -> optuna.Study:
    return optuna.load_study(study_name=out.name, storage=storage.default_url(out))


def when_reached(study: optuna.Study, budget: float) -> datetime | None:
    """When the finished trials' summed cost first reached `budget` (the end of the trial that took it
    there: its cost is recorded milliseconds before its end)."""
    spent = 0.0
    for t in sorted((t for t in study.trials if t.datetime_complete), key=lambda t: t.datetime_complete):
        spent += t.user_attrs.get("cost_usd") or 0.0
        if spent >= budget:
            return t.datetime_complete
    return None


def test_two_workers_start_no_trial_after_a_dollar_budget_is_reached(sweep_file):
    # $10,000 per training second: a 2-step trial of the tiny model trains for ~0.1-5 s, so one or two
    # trials exhaust $5,000; all 12 would cost more even at 0.05 s each ($6,000). At $1,000/s the AMX
    # Xeon's ~0.4 s trials let all 12 run under the budget.
    path = sweep_file(
        {"sampler": "random", "trials": 12, "workers": WORKERS, "space": SPACE}, {"max_steps": 2}
    )
    out = path.parent / "dollars"
    budget = 5_000
    args = ["--budget-dollars", str(budget), "--usd-per-hour", "3.6e7", "--no-progress"]
    assert main(["sweep", str(path), "--output", str(out), *args]) == 0
    study = study_of(out)
    reached = when_reached(study, budget)
    assert reached is not None and len(study.trials) < 12  # the budget, not the trial count, ended it
    started_after = [t for t in study.trials if t.datetime_start > reached]
    in_flight = [t for t in study.trials if t.datetime_start <= reached < t.datetime_complete]
    costs = [t.user_attrs["cost_usd"] for t in study.trials]
    print(
        f"trials {len(study.trials)}, started after the budget {len(started_after)}, in flight "
        f"{len(in_flight)}, spent ${sum(costs):,.0f} of ${budget:,} (most per trial ${max(costs):,.0f})"
    )
    assert len(started_after) <= WORKERS - 1 and len(in_flight) <= WORKERS - 1
    assert sum(costs) <= budget + WORKERS * max(costs)


def test_two_workers_start_no_trial_after_the_minutes_budget(sweep_file, capfd):
    # 0.001 min = 60 ms from the sweep's start: over before a worker process has imported thrifty. Each
    # worker used to time the budget from its own start, and Optuna's timeout let it start a trial first.
    path = sweep_file(
        {"sampler": "random", "trials": 4, "workers": WORKERS, "space": SPACE}, {"max_steps": 2}
    )
    out = path.parent / "minutes"
    assert main(["sweep", str(path), "--output", str(out), "--budget-minutes", "0.001", "--no-progress"]) == 0
    assert study_of(out).trials == []
    assert capfd.readouterr().err.count("the minutes budget is spent; no new trial starts") == WORKERS
