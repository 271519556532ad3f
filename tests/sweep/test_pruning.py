"""The pruning callback: the eval loss it reports, at which evaluation, for a fresh and a resumed run."""

from types import SimpleNamespace

import optuna

from thrifty.sweep.pruning import PruningCallback
from thrifty.sweep.settings import SweepSettings


def evaluate(callback: PruningCallback, step: int, loss: float, eval_steps: int = 2) -> None:
    args, state = SimpleNamespace(eval_steps=eval_steps), SimpleNamespace(global_step=step)
    callback.on_evaluate(args, state, SimpleNamespace(should_training_stop=False), {"eval_loss": loss})


def reported(study: optuna.Study, number: int = 0) -> dict[int, float]:
    return study.get_trials(deepcopy=False)[number].intermediate_values


def test_a_maximised_objective_gets_the_negated_loss():
    # An accuracy study is maximised: reporting the loss itself would make the pruner keep the worst.
    settings = SweepSettings(metric="f1", objectives=["accuracy"], pruner="median")
    study = optuna.create_study(direction="maximize")
    callback = PruningCallback(study.ask(), settings)
    evaluate(callback, 2, 3.5)
    assert reported(study) == {1: -3.5}


def test_a_resumed_run_keeps_counting_evaluations_and_skips_the_ones_it_inherited():
    settings = SweepSettings(pruner="halving")
    study = optuna.create_study()
    retry = optuna.trial.create_trial(
        state=optuna.trial.TrialState.WAITING,
        intermediate_values={1: 3.0, 2: 2.8},  # reported before the preemption (evaluations at steps 2, 4)
    )
    study.add_trial(retry)
    callback = PruningCallback(study.ask(), settings)
    evaluate(callback, 4, 9.9)  # the resumed run (from step 3) evaluates step 4 again: already there
    evaluate(callback, 6, 2.5)  # its first new evaluation is the third, not the first
    evaluate(callback, 6, 2.5)  # the final evaluation after training, at the same step
    assert reported(study) == {1: 3.0, 2: 2.8, 3: 2.5}


def _last_report_and_final_loss(sweep_file, out, prune_eval_examples) -> tuple[float, float]:
    """One 6-step trial, evaluated at steps 2, 4, 6 for the median pruner (which lets it run on), then
    once more at step 6 for its objective: (the pruner's value at step 6, the trial's eval_loss)."""
    from thrifty.cli import main
    from thrifty.sweep.results import read_rows

    sweep = {
        "sampler": "grid",
        "pruner": "median",
        "evals_per_trial": 3,
        "space": {"method.rank": {"choices": [2]}},
    }
    path = sweep_file({**sweep, "prune_eval_examples": prune_eval_examples}, name=f"{out}.yaml")
    folder = path.parent / out
    assert main(["sweep", str(path), "--output", str(folder), "--no-progress"]) == 0
    study = optuna.load_study(study_name=out, storage=f"sqlite:///{folder / 'study.db'}")
    (row,) = read_rows(folder / "results.jsonl")
    assert sorted(reported(study)) == [1, 2, 3]
    return reported(study)[3], row["eval_loss"]


def test_pruning_evaluations_use_the_subset_and_the_objective_the_whole_held_out_set(sweep_file):
    # The same weights (step 6) evaluated twice: on 2 of the 4 held-out rows for the pruner, on all 4
    # for the trial's value. With the subset off both are the whole set, so they are equal.
    pruned_on, objective = _last_report_and_final_loss(sweep_file, "subset", 2)
    assert pruned_on != objective
    whole, same_objective = _last_report_and_final_loss(sweep_file, "whole", None)
    assert whole == same_objective == objective  # the trial's value does not depend on the subset
