"""random: a seeded uniform sample, the baseline every other strategy must beat."""

import random

from thrifty.curate.select.strategies.registry import Scores, Strategy, register


def pick(scores: Scores, k: int, seed: int) -> list[int]:
    return random.Random(seed).sample(range(scores.n), k)


STRATEGY = register(Strategy("random", "A seeded uniform sample (the baseline; no model needed).", (), pick))
