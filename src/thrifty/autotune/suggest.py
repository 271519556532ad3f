"""Top-k configs for new data: fit on past sweeps, score every config they tried, best first."""

import sys
from pathlib import Path
from typing import Any

from thrifty.autotune.model import config_of, fit, read_results
from thrifty.errors import UserError

# results.jsonl field -> the run-config field it came from, for turning a suggestion into space values.
FIELD_OF = {
    "rank": "method.rank",
    "alpha": "method.alpha",
    "dropout": "method.dropout",
    "learning_rate": "train.learning_rate",
    "weight_decay": "train.weight_decay",
    "target_modules": "method.target_modules",
    "epochs": "train.epochs",
    "method": "method.name",
}


def default_results(root: Path = Path("runs")) -> list[Path]:
    return sorted(root.glob("**/results.jsonl"))


def suggest(results: list[Path], data: dict[str, Any], k: int, exclude_domain: str | None = None):
    """[(config, predicted relative loss)] for data with features `data`, from every result row."""
    if not results:
        raise UserError("no results.jsonl found: pass --results FILE or run `thrifty sweep` first (runs/**)")
    rows = [r for r in read_results(results) if r["domain"] != exclude_domain]
    tuner = fit(rows)
    return tuner.top([config_of(r) for r in rows], data, k)


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
            from thrifty.sweep.space import decode_choice

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
    from thrifty.sweep.space import parse_space

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
