"""Optuna pruners by name, and the Trainer callback that reports eval loss to a trial and stops it."""

import optuna
from transformers import TrainerCallback


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    pruners = optuna.pruners
    if name == "halving":
        # min_resource 1 = the first evaluation; reduction 3 keeps the best third at each rung.
        return pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if name == "median":
        return pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    return pruners.NopPruner()


class PruningCallback(TrainerCallback):
    """After each evaluation: report eval loss at that step; if the pruner says so, stop training.

    The run still finishes normally (final eval, save, summary), so a pruned trial has a full record
    of how far it got; the objective raises `TrialPruned` afterwards.
    """

    def __init__(self, trial: optuna.Trial):
        self.trial = trial
        self.pruned_at: int | None = None
        self.evals = 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics or state.global_step == 0:
            return
        # The pruners' resource unit is the evaluation count (1, 2, 3...): halving's rungs at
        # min_resource x 3^k then fall on evaluations 1, 3, 9 whatever the eval interval in steps.
        self.evals += 1
        self.trial.report(float(metrics["eval_loss"]), self.evals)
        if self.trial.should_prune():
            self.pruned_at = state.global_step
            control.should_training_stop = True
