"""Optuna pruners by name, the Trainer callback that reports eval loss to a trial and stops it, and the
one that points those in-training evaluations at a smaller held-out subset."""

import random

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

    def __init__(self, trial: optuna.Trial, settings):
        self.trial = trial
        self.pruned_at: int | None = None
        # The pruner ranks trials in the study's direction; it always judges eval loss (lower is better),
        # so a maximised objective (accuracy) gets the negated loss, or it would keep the worst trials.
        self.sign = -1.0 if settings.direction(settings.objectives[0]) == "maximize" else 1.0
        # Evaluations a retried trial inherited from the run it resumes (the resumed run repeats them).
        self.reported = set(trial.study.get_trials(deepcopy=False)[trial.number].intermediate_values)
        self.evals = 0

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics or state.global_step == 0:
            return
        # The pruners' resource unit is the evaluation count (1, 2, 3...): halving's rungs at
        # min_resource x 3^k then fall on evaluations 1, 3, 9 whatever the eval interval in steps.
        # Counted from the step, so a run resumed from a checkpoint keeps counting where it was.
        self.evals = state.global_step // args.eval_steps if args.eval_steps else self.evals + 1
        if self.evals in self.reported:  # the final evaluation after the last in-loop one, or a replay
            return
        self.reported.add(self.evals)
        self.trial.report(self.sign * float(metrics["eval_loss"]), self.evals)
        if self.trial.should_prune():
            self.pruned_at = state.global_step
            control.should_training_stop = True


class SubsetEvals(TrainerCallback):
    """While training runs, the trainer evaluates a fixed, seeded sample of `examples` held-out rows (the
    same rows for every trial of a sweep: the pruner compares trials on them); the evaluation before
    training and the final one, whose loss is the trial's objective, see the whole held-out set."""

    def __init__(self, trainer, examples: int, seed: int):
        self.trainer = trainer
        self.full = trainer.eval_dataset
        n = len(self.full)
        picked = sorted(random.Random(seed).sample(range(n), examples)) if examples < n else None
        self.subset = None if picked is None else _select(self.full, picked)

    def on_train_begin(self, args, state, control, **kwargs):
        if self.subset is not None:
            self.trainer.eval_dataset = self.subset

    def on_train_end(self, args, state, control, **kwargs):
        self.trainer.eval_dataset = self.full


def _select(rows, indices: list[int]):
    """Rows `indices` of a datasets.Dataset (TRL's tokenized pairs) or a list (thrifty's rows)."""
    return rows.select(indices) if hasattr(rows, "select") else [rows[i] for i in indices]
