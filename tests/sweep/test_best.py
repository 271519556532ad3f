"""Picking the best trial(s) and queueing grid points, on studies built by hand (no training)."""

import optuna
from optuna.distributions import CategoricalDistribution

from thrifty.sweep.finalize import best_params
from thrifty.sweep.objective import SweepPlan
from thrifty.sweep.report import best_trials
from thrifty.sweep.runner import enqueue_first, open_plan_study
from thrifty.sweep.settings import SweepSettings
from thrifty.sweep.storage import default_url

RANKS = [2, 4, 8, 16]
SPACE = {"method.rank": {"choices": RANKS}}


def plan_in(folder, **settings) -> SweepPlan:
    plan = SweepPlan(
        sweep_dir=str(folder),
        base={},
        full={},
        space=SPACE,
        settings=SweepSettings.model_validate({"space": SPACE, **settings}).model_dump(mode="json"),
        study_name="s",
        storage=default_url(folder),
        trials=len(RANKS),
    )
    plan.save()
    return plan


def add(study, rank: int, values=None, state=optuna.trial.TrialState.COMPLETE, **attrs) -> None:
    study.add_trial(
        optuna.trial.create_trial(
            params={"method.rank": rank},
            distributions={"method.rank": CategoricalDistribution(RANKS)},
            values=values,
            state=state,
            user_attrs=attrs,
        )
    )


def test_finalize_picks_the_best_accuracy_of_a_pareto_set(tmp_path):
    plan = plan_in(tmp_path, objectives=["accuracy", "cost_usd"], metric="f1", usd_per_hour=1.0)
    study = open_plan_study(plan)
    add(study, 2, [0.2, 0.01])  # cheapest, worst: all three are on the Pareto set
    add(study, 4, [0.9, 0.50])
    add(study, 8, [0.5, 0.10])
    assert len(best_trials(study)) == 3
    assert best_params(tmp_path) == {"method.rank": 4}


def test_finalize_picks_the_lowest_loss(tmp_path):
    study = open_plan_study(plan_in(tmp_path))
    add(study, 2, [3.0])
    add(study, 4, [2.5])
    assert best_params(tmp_path) == {"method.rank": 4}


def test_a_repeat_is_no_separate_pareto_member(tmp_path):
    plan = plan_in(tmp_path, objectives=["eval_loss", "cost_usd"], usd_per_hour=1.0)
    study = open_plan_study(plan)
    add(study, 2, [3.0, 0.01])
    add(study, 4, [2.5, 0.05])
    add(study, 4, [2.5, 0.05], duplicate_of=1)  # what a repeat reports now: its twin's values
    add(study, 2, [3.0, 0.0], duplicate_of=0)  # and what it reported before: its own $0
    assert sorted(t.number for t in best_trials(study)) == [0, 1]


def test_the_design_size_is_fixed_when_the_study_is_created(tmp_path):
    plan = plan_in(tmp_path, sampler="lhs")
    assert open_plan_study(plan).user_attrs["design_size"] == 4
    plan.trials = 2  # a resume with fewer (or, for sobol, more) trials keeps the design
    assert open_plan_study(plan).sampler._n == 4


def test_a_failed_grid_point_is_queued_again_on_resume(tmp_path):
    study = open_plan_study(plan_in(tmp_path, sampler="grid"))
    for rank in (2, 4, 8):
        add(study, rank, [3.0])
    add(study, 16, state=optuna.trial.TrialState.FAIL, error="OutOfMemoryError: ...")
    assert enqueue_first(SweepPlan.load(tmp_path), study, []) == 1
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert [t.system_attrs["fixed_params"] for t in waiting] == [{"method.rank": 16}]
    assert enqueue_first(SweepPlan.load(tmp_path), study, []) == 0  # queued once


def test_a_failed_grid_point_queued_again_continues_its_run_folder(tmp_path):
    study = open_plan_study(plan_in(tmp_path, sampler="grid"))
    for rank in (2, 4, 8):
        add(study, rank, [3.0])
    folder = str(tmp_path / "trials" / "trial-0003")
    add(study, 16, state=optuna.trial.TrialState.FAIL, run_dir=folder)  # e.g. a Ctrl-C outside training
    assert enqueue_first(SweepPlan.load(tmp_path), study, []) == 1
    (waiting,) = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert waiting.user_attrs == {"run_dir": folder}  # the objective resumes it from its checkpoints
