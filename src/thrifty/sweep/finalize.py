"""`thrifty sweep finalize DIR`: train the best trial's config on the full data and full steps."""

import sys
from pathlib import Path

from thrifty.errors import UserError
from thrifty.sweep.objective import SweepPlan
from thrifty.sweep.space import apply_params


def best_params(sweep_dir: Path) -> dict:
    from thrifty.sweep.report import best_trials
    from thrifty.sweep.runner import open_plan_study

    plan = SweepPlan.load(sweep_dir)
    best = best_trials(open_plan_study(plan))
    if not best:
        raise UserError(f"{sweep_dir}: no trial has completed yet; run or resume the sweep first")
    # Multi-objective: the Pareto member best on the first objective (quality first), in its direction.
    first = plan.sweep.objectives[0]
    pick = max if plan.sweep.direction(first) == "maximize" else min
    return pick(best, key=lambda t: t.values[0]).params


def finalize(sweep_dir: Path, progress: bool = True, overwrite: bool = False):
    from thrifty.train.run import train

    plan = SweepPlan.load(sweep_dir)
    params = best_params(sweep_dir)
    full = {**plan.full, "output": {"dir": str(sweep_dir / "final"), "overwrite": overwrite}}
    config = apply_params(full, params, source="finalize")
    print(f"finalize: training {params} on the full data into {config.output.dir}", file=sys.stderr)
    return train(config, progress=progress)
