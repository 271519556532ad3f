"""Learn `objective relative to the domain's best` from past sweeps with scikit-learn gradient boosting."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thrifty.autotune.features import DATA_FEATURES, row_features
from thrifty.errors import UserError

CONFIG_FIELDS = (
    "method",
    "rank",
    "alpha",
    "dropout",
    "learning_rate",
    "weight_decay",
    "target_modules",
    "epochs",
)


def read_results(paths: list[Path]) -> list[dict[str, Any]]:
    """Complete supervised trials with an eval loss from every results.jsonl given (pruned ones trained less)."""
    rows = []
    for path in paths:
        if not path.is_file():
            raise UserError(f"results file not found: {path}")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(
                    f"{path}:{i}: not valid JSON; results.jsonl has one JSON object per line"
                ) from None
            # Supervised trials only: a DPO trial's eval loss is a preference loss whose scale depends on
            # beta, not a held-out LM loss to learn settings from (rows before the field are sft).
            if (
                row.get("state") == "complete"
                and row.get("eval_loss") is not None
                and row.get("objective", "sft") == "sft"
            ):
                rows.append(row)
    return rows


def normalised_targets(rows: list[dict[str, Any]]) -> np.ndarray:
    """eval_loss / best eval_loss of the same domain - 1: 0 for the domain's best, 0.02 = 2% worse.

    Losses of different domains sit on different scales; the relative gap is what transfers.
    """
    best: dict[str, float] = {}
    for r in rows:
        best[r["domain"]] = min(best.get(r["domain"], float("inf")), r["eval_loss"])
    return np.array([r["eval_loss"] / best[r["domain"]] - 1 for r in rows])


def data_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in DATA_FEATURES}


def config_of(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in CONFIG_FIELDS}


@dataclass
class Autotuner:
    model: Any
    domains: list[str]
    rows: int

    def predict(self, configs: list[dict[str, Any]], data: dict[str, Any]) -> np.ndarray:
        return self.model.predict(np.array([row_features(c, data) for c in configs]))

    def top(self, configs: list[dict[str, Any]], data: dict[str, Any], k: int) -> list[tuple[dict, float]]:
        """The k distinct configs with the lowest predicted relative loss, with the prediction."""
        unique = list({json.dumps(c, sort_keys=True): c for c in configs}.values())
        scores = self.predict(unique, data)
        order = np.argsort(scores, kind="stable")[:k]
        return [(unique[i], float(scores[i])) for i in order]


def fit(rows: list[dict[str, Any]], seed: int = 0) -> Autotuner:
    from sklearn.ensemble import GradientBoostingRegressor

    domains = sorted({r["domain"] for r in rows})
    if len(rows) < 4:
        raise UserError(
            f"autotune needs results of at least 4 completed trials (got {len(rows)}); run sweeps first"
        )
    X = np.array([row_features(r, data_of(r)) for r in rows])
    # Shallow trees and a small learning rate: a few dozen rows per domain, so keep variance low.
    model = GradientBoostingRegressor(
        n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8, random_state=seed
    )
    model.fit(X, normalised_targets(rows))
    return Autotuner(model, domains, len(rows))
