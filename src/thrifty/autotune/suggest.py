"""Top-k configs for new data: fit on past sweeps, score every config they tried, best first."""

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
