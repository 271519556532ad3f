"""Real sweeps on the tiny model through the CLI: grid, pruning, workers, PostgreSQL, resume, report."""

import json
from pathlib import Path

import pytest
import yaml

from thrifty.cli import main
from thrifty.sweep.results import ResultRow, read_rows

SPACE = {"method.rank": {"choices": [2, 4]}, "train.learning_rate": {"low": 1e-4, "high": 3e-2, "log": True}}


def rows_of(out: Path) -> list[dict]:
    rows = read_rows(out / "results.jsonl")
    for row in rows:
        ResultRow.model_validate(row)  # every row validates against the schema
    return rows


def test_grid_visits_each_point_once_and_rows_validate(sweep_file, capsys):
    space = {"method.rank": {"choices": [2, 4]}, "train.learning_rate": {"choices": [1e-3, 1e-2]}}
    path = sweep_file({"sampler": "grid", "space": space})
    out = path.parent / "grid"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress", "--json"]) == 0
    rows = rows_of(out)
    points = sorted((r["params"]["method.rank"], r["params"]["train.learning_rate"]) for r in rows)
    assert points == [(2, 1e-3), (2, 1e-2), (4, 1e-3), (4, 1e-2)]
    assert all(r["state"] == "complete" and r["domain"] == "faq" and r["eval_loss"] > 0 for r in rows)
    assert {r["rank"] for r in rows} == {2, 4} and all(r["steps"] == 6 for r in rows)
    best = json.loads(capsys.readouterr().out)
    assert best[0]["values"][0] == min(r["eval_loss"] for r in rows)
    assert (out / "report.md").is_file() and (out / "params.png").stat().st_size > 1000
    assert (out / "history.png").is_file() and (out / "importance.png").is_file()


def test_pruning_stops_weak_trials_early(sweep_file):
    # A learning rate of ~0 barely moves the loss: halving should stop those trials at an early rung.
    space = {"train.learning_rate": {"choices": [3e-2, 1e-9, 2e-9, 3e-9, 4e-9, 5e-9]}}
    path = sweep_file({"sampler": "grid", "pruner": "halving", "space": space}, train={"max_steps": 8})
    out = path.parent / "pruned"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    rows = rows_of(out)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert pruned and all(r["steps"] < 8 for r in pruned)
    for r in pruned:  # fewer training steps were logged, not just a label
        logged = [
            json.loads(x)["step"] for x in (Path(r["run_dir"]) / "metrics.jsonl").read_text().splitlines()
        ]
        assert max(logged) < 8
    assert any(r["state"] == "complete" and r["steps"] == 8 for r in rows)


def test_search_fraction_trains_on_a_stratified_subset_with_fewer_steps(sweep_file):
    path = sweep_file(
        {"sampler": "random", "trials": 1, "search_fraction": 0.5, "space": SPACE}, train={"max_steps": 6}
    )
    out = path.parent / "frac"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    (row,) = rows_of(out)
    assert row["steps"] == 3 and row["search_fraction"] == 0.5
    subset = (out / "data" / "train.jsonl").read_text().splitlines()
    # 36 train examples in 4 length quartiles of 9: round(9 x 0.5) = 4 from each.
    assert len(subset) == 16 and len((out / "data" / "eval.jsonl").read_text().splitlines()) == 4


def _no_duplicates(rows: list[dict], n: int) -> None:
    assert len(rows) == n and all(r["state"] == "complete" for r in rows)
    assert len({r["trial_id"] for r in rows}) == n
    assert len({json.dumps(r["params"], sort_keys=True) for r in rows}) == n


def test_two_local_workers_on_sqlite(sweep_file):
    path = sweep_file({"sampler": "lhs", "trials": 4, "workers": 2, "space": SPACE}, train={"max_steps": 2})
    out = path.parent / "workers"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    _no_duplicates(rows_of(out), 4)
    assert (out / "study.db").is_file()


def test_two_local_workers_on_postgres(sweep_file, postgres_url):
    path = sweep_file({"sampler": "lhs", "trials": 4, "space": SPACE}, train={"max_steps": 2})
    out = path.parent / "pg"
    code = main(
        [
            "sweep",
            str(path),
            "--output",
            str(out),
            "--storage",
            postgres_url,
            "--workers",
            "2",
            "--no-progress",
        ]
    )
    assert code == 0
    _no_duplicates(rows_of(out), 4)
    assert not (out / "study.db").exists()
    import optuna

    study = optuna.load_study(study_name="pg", storage=postgres_url)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 4


def test_unreachable_storage_is_one_line_exit_2(sweep_file, capsys):
    path = sweep_file({"sampler": "random", "trials": 1, "space": SPACE})
    url = "postgresql+psycopg2://nobody:secret@127.0.0.1:1/none"
    assert main(["sweep", str(path), "--output", str(path.parent / "x"), "--storage", url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot open sweep storage") and "secret" not in err[0]


@pytest.mark.parametrize(
    "space, storage, needles",
    [
        ({}, None, ["sweep.space is empty"]),
        ({"train.learning_rate": {"low": 1e-2, "high": 1e-4}}, None, ["must be below"]),
        ({"train.nope": {"choices": [1, 2]}}, None, ["'train.nope'", "valid fields: ", "method.rank"]),
        (SPACE, "postgresql://u@127.0.0.1:1/db", ["cannot open sweep storage"]),
    ],
    ids=["empty-space", "low-above-high", "unknown-field", "unreachable-storage"],
)
def test_bad_input_is_one_stderr_line_exit_2_before_any_work(sweep_file, capfd, space, storage, needles):
    path = sweep_file({"sampler": "random", "trials": 1, "space": space, "search_fraction": 0.5})
    out = path.parent / "bad"
    argv = ["sweep", str(path), "--output", str(out), "--no-progress"]
    capfd.readouterr()
    assert main(argv + (["--storage", storage] if storage else [])) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and all(n in err[0] for n in needles)
    assert not out.exists()  # nothing was written: no data subset, no sweep.json


def test_interrupted_sweep_resumes_and_finalize_trains_the_best(sweep_file, capsys):
    path = sweep_file({"sampler": "lhs", "trials": 3, "space": SPACE, "search_fraction": 0.5})
    out = path.parent / "resume"
    # Stopped by the dollar budget after its first trial ($1,000 per training second), as an
    # interruption would stop it.
    args = ["--output", str(out), "--no-progress"]
    assert main(["sweep", str(path), *args, "--budget-dollars", "1", "--usd-per-hour", "3600000"]) == 0
    assert len(rows_of(out)) == 1
    assert main(["sweep", str(path), *args]) == 0  # trials: 3 from the file
    rows = rows_of(out)
    assert sorted(r["trial_id"] for r in rows) == [0, 1, 2]
    # The LHS design has 3 points (one per stratum): more trials are refused, nothing changes.
    capsys.readouterr()
    assert main(["sweep", str(path), *args, "--trials", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--trials 3 or fewer" in err[0] and "--output" in err[0]
    assert json.loads((out / "sweep.json").read_text())["trials"] == 3
    assert main(["sweep", "report", str(out), "--json"]) == 0
    assert main(["sweep", "finalize", str(out), "--no-progress", "--json"]) == 0
    summary = json.loads((out / "final" / "summary.json").read_text())
    best = min((r for r in rows if r["state"] == "complete"), key=lambda r: r["eval_loss"])
    assert summary["train_examples"] == 36 and summary["steps"] == 6  # full data, full steps
    final = (out / "final" / "config.yaml").read_text()
    assert f"rank: {best['rank']}" in final


def test_repeated_values_reuse_the_finished_result(sweep_file, capsys):
    # 4 LHS strata over 2 choices: each rank comes up twice; the repeats train nothing.
    space = {"method.rank": {"choices": [2, 4]}}
    sweep = {"sampler": "lhs", "trials": 4, "space": space, "objectives": ["eval_loss", "cost_usd"]}
    path = sweep_file({**sweep, "usd_per_hour": 2.0}, train={"max_steps": 2})
    out = path.parent / "twins"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress", "--json"]) == 0
    front = json.loads(capsys.readouterr().out)
    rows = rows_of(out)
    assert sorted(r["rank"] for r in rows) == [2, 2, 4, 4]
    trained = {r["trial_id"]: r for r in rows if r["duplicate_of"] is None}
    repeats = [r for r in rows if r["duplicate_of"] is not None]
    assert len(trained) == 2 and len(repeats) == 2
    for r in repeats:
        twin = trained[r["duplicate_of"]]
        assert r["rank"] == twin["rank"] and r["eval_loss"] == twin["eval_loss"]
        assert r["steps"] == 0 and r["train_seconds"] == 0 and r["cost_usd"] == 0  # what it spent
    assert len(list((out / "trials").iterdir())) == 2  # no run folder for a repeat
    # Its objective values are its twin's (a $0 repeat would dominate the twin), and the Pareto set
    # lists only trials that trained.
    import optuna

    study = optuna.load_study(study_name="twins", storage=f"sqlite:///{out / 'study.db'}")
    for r in repeats:
        assert study.trials[r["trial_id"]].values == study.trials[r["duplicate_of"]].values
    assert front and {b["trial"] for b in front} <= set(trained)


def test_resuming_with_another_space_is_one_line_exit_2(sweep_file, capsys):
    path = sweep_file({"sampler": "random", "trials": 1, "space": SPACE}, train={"max_steps": 1})
    out = path.parent / "changed"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    other = {"method.rank": {"choices": [2, 8]}}
    path = sweep_file({"sampler": "random", "trials": 2, "space": other}, train={"max_steps": 1})
    capsys.readouterr()
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another sweep.space" in err[0] and "--output" in err[0]
    assert len(rows_of(out)) == 1  # the old results are untouched


@pytest.mark.parametrize("sampler", ["random", "sobol", "tpe"])
def test_other_samplers_run(sweep_file, sampler):
    path = sweep_file({"sampler": sampler, "trials": 2, "space": SPACE}, train={"max_steps": 2})
    out = path.parent / sampler
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    assert len(rows_of(out)) == 2


def test_multi_objective_reports_the_pareto_set(sweep_file, capsys):
    path = sweep_file(
        {
            "sampler": "random",
            "trials": 3,
            "space": SPACE,
            "objectives": ["eval_loss", "cost_usd"],
            "usd_per_hour": 2.0,
        },
        train={"max_steps": 2},
    )
    out = path.parent / "mo"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress", "--json"]) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(len(b["values"]) == 2 for b in front)
    rows = rows_of(out)
    assert all(r["cost_usd"] == pytest.approx(r["train_seconds"] * 2.0 / 3600) for r in rows)
    assert "Pareto set" in (out / "report.md").read_text() and (out / "pareto.png").is_file()


def test_dollar_budget_stops_the_sweep(sweep_file, capsys):
    # At $3,600,000/h a trial of ~1 s costs ~$1,000: the $1 budget is spent after the first trial.
    path = sweep_file({"sampler": "random", "trials": 4, "space": SPACE}, train={"max_steps": 2})
    out = path.parent / "budget"
    args = ["--budget-dollars", "1", "--usd-per-hour", "3600000", "--no-progress"]
    assert main(["sweep", str(path), "--output", str(out), *args]) == 0
    rows = rows_of(out)
    assert len(rows) == 1 and rows[0]["cost_usd"] > 1
    # Resumed with the budget already spent: no new trial starts.
    capsys.readouterr()
    assert main(["sweep", str(path), "--output", str(out), *args]) == 0
    assert len(rows_of(out)) == 1 and "already spent" in capsys.readouterr().err


def test_minutes_budget_stops_starting_trials(sweep_file, capsys, monkeypatch):
    import time

    import thrifty.train.run

    # 0.03 min = 1.8 s: the first trial starts at once and trains for 2.5 s or more, so no second starts.
    original = thrifty.train.run.train

    def slow_train(*args, **kwargs):
        time.sleep(2.5)
        return original(*args, **kwargs)

    monkeypatch.setattr(thrifty.train.run, "train", slow_train)
    path = sweep_file({"sampler": "random", "trials": 4, "space": SPACE}, train={"max_steps": 2})
    out = path.parent / "minutes"
    budget = ["--budget-minutes", "0.03", "--no-progress"]
    assert main(["sweep", str(path), "--output", str(out), *budget]) == 0
    assert len(rows_of(out)) == 1
    # The budget spans resumes: rerun with the same budget, nothing new starts; without one, it goes on.
    capsys.readouterr()
    assert main(["sweep", str(path), "--output", str(out), *budget]) == 0
    assert len(rows_of(out)) == 1 and "budget was spent by earlier runs" in capsys.readouterr().err
    assert main(["sweep", str(path), "--output", str(out), "--trials", "2", "--no-progress"]) == 0
    assert len(rows_of(out)) == 2


def test_task_metric_is_scored_by_eval_and_maximised(sweep_file):
    import optuna

    sweep = {
        "sampler": "random",
        "trials": 2,
        "space": SPACE,
        "objectives": ["accuracy"],
        "metric_examples": 3,
        "metric_max_new_tokens": 4,
    }
    path = sweep_file(sweep, train={"max_steps": 2})
    out = path.parent / "metric"
    assert main(["sweep", str(path), "--output", str(out), "--metric", "f1", "--no-progress"]) == 0
    rows = rows_of(out)
    assert len(rows) == 2 and all(r["metric"] == "f1" and 0 <= r["accuracy"] <= 1 for r in rows)
    assert all(r["generation_ms_per_token"] > 0 for r in rows)
    for r in rows:  # the value is thrifty eval's own score, and its report stays beside the trial
        report = json.loads((Path(r["run_dir"]) / "eval.json").read_text())
        assert report["examples"] == 3
        assert report["models"]["fine_tuned"]["scores"]["f1"] == pytest.approx(r["accuracy"])
    study = optuna.load_study(study_name="metric", storage=f"sqlite:///{out / 'study.db'}")
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE]
    assert "accuracy (maximised)" in (out / "report.md").read_text()


def test_accuracy_objective_without_a_metric_is_one_line_exit_2(sweep_file, capsys):
    path = sweep_file({"sampler": "random", "trials": 1, "space": SPACE, "objectives": ["accuracy"]})
    assert main(["sweep", str(path), "--output", str(path.parent / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a task metric" in err[0]


def with_data(path: Path, records: list[dict]) -> Path:
    """The sweep file at `path`, now on these records."""
    data = path.parent / "other.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = yaml.safe_load(path.read_text())
    config["data"]["path"] = str(data)
    path.write_text(yaml.safe_dump(config))
    return path


PLAIN_TEXT = [{"text": f"plain sentence number {i}."} for i in range(40)]
YES_NO = [{"instruction": f"Is {i} even?", "output": "yes" if i % 2 == 0 else "no"} for i in range(40)]


@pytest.mark.parametrize(
    "objective, records, needles",
    [
        ({"metric": "f1"}, PLAIN_TEXT, ["sweep.metric f1", "plain text (text format)", "no answers"]),
        ({"metric": "f1", "objectives": ["accuracy"]}, PLAIN_TEXT, ["plain text (text format)"]),
        (
            {"metric": "accuracy", "metric_labels": ["maybe"], "objectives": ["accuracy"]},
            YES_NO,
            ["held-out answer", "is none of sweep.metric_labels (maybe)"],
        ),
    ],
    ids=["metric-on-plain-text", "accuracy-objective-on-plain-text", "answers-outside-the-labels"],
)
def test_a_metric_the_data_cannot_give_is_one_line_before_any_trial(
    sweep_file, capfd, objective, records, needles
):
    path = with_data(sweep_file({"sampler": "random", "trials": 2, "space": SPACE, **objective}), records)
    out = path.parent / "nometric"
    capfd.readouterr()
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and all(n in err[0] for n in needles), err
    assert not out.exists()  # no trial ran: no sweep folder, no trials/ (it used to train one first)


def test_a_workers_user_error_is_one_line_and_the_sweep_exits_2(sweep_file, capfd):
    # Workers on a storage that stopped answering after the sweep was prepared: each says so in one line.
    from thrifty.sweep.objective import SweepPlan
    from thrifty.sweep.runner import prepare, run_workers

    path = sweep_file({"sampler": "random", "trials": 2, "space": SPACE}, train={"max_steps": 1})
    plan = prepare(path, {}, str(path.parent / "w"))
    plan.storage = "postgresql://nobody@127.0.0.1:1/none"
    plan.save()
    capfd.readouterr()
    assert run_workers(SweepPlan.load(Path(plan.sweep_dir)), 2, 2, None) == 2
    err = capfd.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert errors and all("cannot open sweep storage" in line for line in errors)
    # One per worker, counted in the text: two processes writing to one stderr at the same moment can
    # put both messages on one line (the suite saw it once), which a line count would call one.
    assert err.count("error: cannot open sweep storage") == 2


def test_the_sweep_exit_status_follows_its_workers():
    from thrifty.sweep.runner import workers_exit

    assert workers_exit([0, 0]) == 0
    assert workers_exit([2, 75]) == 75 and workers_exit([0, 2]) == 2
    assert workers_exit([1, 0]) == 1 and workers_exit([-9, 0]) == 1
