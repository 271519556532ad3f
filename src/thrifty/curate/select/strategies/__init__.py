"""Selection strategies, one module each: a name, what scores it needs, and a function that picks k row
numbers from the scores. Adding one is a new module that calls `register`."""

from thrifty.curate.select.strategies.registry import STRATEGIES, Scores, Strategy, register, top_k
from thrifty.errors import UserError

__all__ = ["STRATEGIES", "Scores", "Strategy", "get_strategy", "names", "register", "top_k"]


def get_strategy(name: str) -> Strategy:
    _load_all()
    if name not in STRATEGIES:
        raise UserError(f"--strategy {name}: unknown; choose one of {', '.join(names())}")
    return STRATEGIES[name]


def names() -> list[str]:
    _load_all()
    return list(STRATEGIES)


def _load_all() -> None:
    from thrifty.curate.select.strategies import (  # noqa: F401  (each module registers itself)
        diversity,
        loss,
        loss_diversity,
        random_pick,
        uncertainty,
    )
