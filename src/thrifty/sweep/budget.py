"""When a sweep stops starting trials: --budget-dollars and --budget-minutes, checked on the shared study
by every worker right before each trial it starts, its first included.

The bound this gives (docs/sweep.md): a trial starts only if its worker found the budget not reached
just before (the check and Optuna's start of the trial are milliseconds apart). So after the budget is
reached each worker starts at most one trial, the one it had already checked for; for dollars the
worker whose trial reached the budget checks after recording its cost, so at most workers - 1 trials
start after the budget is reached, and at most workers - 1 trials are still running then. In dollars:
the spend stays below the budget until the trial that reaches it, so the sweep spends at most
budget + workers x the most one trial costs. In minutes: the last trial starts by the deadline (give
or take those milliseconds) and the sweep ends at most one trial's duration after it.
"""

import sys
import time
from dataclasses import dataclass

import optuna

from thrifty.sweep.settings import SweepSettings

# Study user attr: wall seconds the earlier runs of this sweep took, so --budget-minutes spans resumes.
SECONDS_SPENT = "seconds_spent"


def spent_dollars(study: optuna.Study) -> float:
    """The trials' summed cost_usd, as results.jsonl has it (a repeat spent nothing; a retried trial's
    cost, recorded when its resumed run ends, covers the interrupted part too)."""
    return sum(t.user_attrs.get("cost_usd") or 0.0 for t in study.get_trials(deepcopy=False))


def minutes_left(settings: SweepSettings, study: optuna.Study) -> float | None:
    """Seconds left of --budget-minutes (None: no budget), after the earlier runs of a resumed sweep."""
    if not settings.budget_minutes:
        return None
    return max(0.0, settings.budget_minutes * 60 - study.user_attrs.get(SECONDS_SPENT, 0.0))


@dataclass
class Budget:
    """What may still be spent: dollars (summed over the shared study, all workers and machines) and a
    wall-clock deadline (time.time() seconds, one for all of this sweep's workers)."""

    dollars: float | None = None
    deadline: float | None = None

    @classmethod
    def of(cls, settings: SweepSettings, study: optuna.Study) -> "Budget":
        left = minutes_left(settings, study)
        return cls(settings.budget_dollars, None if left is None else time.time() + left)

    def reached(self, study: optuna.Study) -> str | None:
        """Why no trial may start now, or None."""
        if self.deadline is not None and time.time() >= self.deadline:
            return "the minutes budget is spent"
        if self.dollars:
            spent = spent_dollars(study)
            if spent >= self.dollars:
                return f"${spent:.4f} spent, budget ${self.dollars:g} reached"
        return None

    def stop_if_reached(self, study: optuna.Study, _trial=None) -> bool:
        """Optuna callback (after each trial, so before the next one starts): stop this worker."""
        reason = self.reached(study)
        if reason:
            print(f"sweep: {reason}; no new trial starts", file=sys.stderr)
            study.stop()
        return reason is not None
