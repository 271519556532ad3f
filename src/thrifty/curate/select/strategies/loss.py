"""loss: the rows the model gets most wrong (highest answer-token loss) — what it still has to learn.
Needs answers; a pool to label takes `uncertainty`."""

from thrifty.curate.select.strategies.registry import Scores, Strategy, register, top_k


def pick(scores: Scores, k: int, seed: int) -> list[int]:
    return top_k(scores.loss, k)


STRATEGY = register(
    Strategy("loss", "Highest answer-token loss under the model (rows need answers).", ("loss",), pick)
)
