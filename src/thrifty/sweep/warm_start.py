"""--warm-start: the autotune model's top configs for this sweep's data, as values of its search space.

Here, not in autotune: autotune learns from sweeps' results and knows nothing of a sweep's space; the
sweep asks it and maps the answers onto its own space.
"""

import sys
from pathlib import Path
from typing import Any

from thrifty.autotune.suggest import FIELD_OF, default_results, suggest
from thrifty.sweep.space import decode_choice, parse_space


def to_space(config: dict[str, Any], space: dict) -> dict[str, Any]:
    """A suggestion as values of this sweep's space: known fields only, clipped into each range."""
    from optuna.distributions import CategoricalDistribution

    out = {}
    by_field = {v: k for k, v in FIELD_OF.items()}
    for key, dist in space.items():
        value = config.get(by_field.get(key, ""))
        if value is None:
            continue
        if isinstance(dist, CategoricalDistribution):
            choices = [decode_choice(c) for c in dist.choices]
            if value not in choices:
                numeric = [c for c in choices if isinstance(c, int | float)]
                if not numeric or not isinstance(value, int | float):
                    continue
                value = min(numeric, key=lambda c: abs(c - value))
        else:
            value = min(max(value, dist.low), dist.high)
            if dist.step is not None:
                value = dist.low + round((value - dist.low) / dist.step) * dist.step
            value = int(round(value)) if not isinstance(dist.low, float) else float(value)
        out[key] = value
    return out


def suggest_for_plan(plan) -> list[dict[str, Any]]:
    """--warm-start: the top-N suggestions for this sweep's data, as space values (duplicates dropped)."""
    settings = plan.sweep
    paths = [Path(p) for p in settings.results_from] or [
        p for p in default_results() if Path(plan.sweep_dir) not in p.resolve().parents
    ]
    picks = suggest(paths, plan.features, settings.warm_start * 3, exclude_domain=None)
    space = parse_space(plan.space)
    out: list[dict[str, Any]] = []
    for config, _ in picks:
        values = to_space(config, space)
        if values and values not in out:
            out.append(values)
    if not out:
        print("sweep: no suggestion maps onto this space; starting cold", file=sys.stderr)
    return out[: settings.warm_start]
