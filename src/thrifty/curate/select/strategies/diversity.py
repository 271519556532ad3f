"""diversity: k-center greedy on the model's mean hidden states (a core-set, Sener & Savarese 2018):
each pick is the row farthest from every row picked so far, so the set covers the pool's topics."""

import numpy as np

from thrifty.curate.select.strategies.registry import Scores, Strategy, register


def k_center(points: np.ndarray, k: int, weights: np.ndarray | None = None) -> list[int]:
    """Greedy k-center: start at the row nearest the pool's mean (or the heaviest, when weighted), then
    repeatedly the row with the largest (weighted) distance to its nearest chosen row. Deterministic."""
    weights = np.ones(len(points)) if weights is None else weights
    if weights.any() and not np.allclose(weights, weights[0]):
        first = int(np.argmax(weights))
    else:
        first = int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    chosen = [first]
    nearest = np.linalg.norm(points - points[first], axis=1)
    while len(chosen) < k:
        gain = nearest * weights
        gain[chosen] = -1.0  # never twice, even where every distance is 0 (duplicate rows)
        nxt = int(np.argmax(gain))
        chosen.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[nxt], axis=1))
    return chosen


def pick(scores: Scores, k: int, seed: int) -> list[int]:
    return k_center(np.asarray(scores.hidden, dtype=np.float64), k)


STRATEGY = register(
    Strategy(
        "diversity", "k-center greedy on mean hidden states: cover the pool's topics.", ("hidden",), pick
    )
)
