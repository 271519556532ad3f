"""The strategy table: what a strategy is, what it may read, and how it registers itself."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    """What a strategy may read, one entry per pool row (None when the strategy did not ask for it)."""

    n: int  # pool rows
    loss: list[float] | None = None  # answer-token loss, nats/token (labelled rows)
    entropy: list[float] | None = None  # entropy of the model's own answer, nats/token
    hidden: list[list[float]] | None = None  # L2-normalised mean hidden state

    def difficulty(self) -> list[float]:
        """Loss where there are answers, else entropy: how much a row would teach the model."""
        values = self.loss if self.loss is not None else self.entropy
        assert values is not None, "the strategy asked for neither loss nor entropy"
        return values


@dataclass(frozen=True)
class Strategy:
    name: str
    help: str
    needs: tuple[str, ...]  # of "difficulty" (loss if labelled, else entropy), "loss", "entropy", "hidden"
    pick: Callable[[Scores, int, int], list[int]]  # (scores, k, seed) -> k distinct row numbers


STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.name] = strategy
    return strategy


def top_k(values: list[float], k: int) -> list[int]:
    """The k highest values' row numbers; NaN (nothing to score) counts as lowest; ties by row number."""

    def key(i: int) -> tuple[bool, float, int]:
        v = values[i]
        return (v == v, v if v == v else 0.0, -i)

    return sorted(range(len(values)), key=key, reverse=True)[:k]
