"""Training objectives, one module each, registered by name: what a run optimises (sft, dpo).

An objective says how it reads its data, which transformers/TRL trainer and arguments class it trains
with, and what it adds to summary.json. Adding one is a module with a `register(Objective(...))` line
and its name in `train.objective`'s Literal (config/schema.py); tests/objectives checks the two agree.
"""

# Importing the modules runs their register lines; cheap, no heavy imports at module level.
from thrifty.objectives import dpo, grpo, kto, orpo, reward, sft, simpo  # noqa: F401
from thrifty.objectives.registry import REGISTRY, Objective, register

__all__ = ["Objective", "get_objective", "objective_names", "register"]


def get_objective(name: str) -> Objective:
    return REGISTRY[name]


def objective_names() -> list[str]:
    return sorted(REGISTRY)
