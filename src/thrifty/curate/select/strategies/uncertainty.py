"""uncertainty: the prompts whose own answer the model is least sure of (highest mean predictive
entropy over its greedy answer). Needs no answers: the active-learning pick of what to label."""

from thrifty.curate.select.strategies.registry import Scores, Strategy, register, top_k


def pick(scores: Scores, k: int, seed: int) -> list[int]:
    return top_k(scores.entropy, k)


STRATEGY = register(
    Strategy(
        "uncertainty",
        "Highest entropy of the model's own answer (no answers needed: pick what to label).",
        ("entropy",),
        pick,
    )
)
