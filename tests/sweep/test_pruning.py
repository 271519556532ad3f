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
