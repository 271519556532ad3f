"""loss+diversity: k-center greedy whose distances are weighted by how much a row would teach (its loss
rank, or entropy rank for rows without answers): hard rows first, but not ten near-copies of one hard
row. Ranks, not raw losses, so one outlier's loss does not swamp the distances."""

import numpy as np

from thrifty.curate.select.strategies.diversity import k_center
from thrifty.curate.select.strategies.registry import Scores, Strategy, register


def rank_weights(values: list[float]) -> np.ndarray:
    """1/n for the lowest value .. 1 for the highest; NaN (nothing to score) gets the lowest."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
    ranks = np.empty(len(clean))
    ranks[np.argsort(clean, kind="stable")] = np.arange(1, len(clean) + 1)
    return ranks / len(clean)


def pick(scores: Scores, k: int, seed: int) -> list[int]:
    points = np.asarray(scores.hidden, dtype=np.float64)
    return k_center(points, k, rank_weights(scores.difficulty()))


STRATEGY = register(
    Strategy(
        "loss+diversity",
        "k-center greedy weighted by loss rank (entropy without answers): hard and varied rows.",
        ("difficulty", "hidden"),
        pick,
    )
)
