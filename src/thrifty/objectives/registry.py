"""The objective registry: name -> what a run optimises, as one entry filled by each objective module's
`register(Objective(...))`. The training recipe (thrifty.train.run) asks the entry for its data, its
trainer and its summary fields, so a new objective adds a module here and no branch there.

It imports no objective module, so the modules can import `register` from here without an import circle;
`thrifty.objectives` imports the built-in modules once, which fills the table.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# What an objective's functions receive and return (kept as Any: no torch, no trl at import).
PrepareFn = Callable[[Any, Any, int], Any]  # (DataConfig, tokenizer, seed) -> PreparedData
ArgumentsFn = Callable[
    [Any], tuple[type, dict[str, Any]]
]  # RunConfig -> (TrainingArguments class, its fields)
BuildFn = Callable[
    ..., Any
]  # (model, args, data, collate, tokenizer, callbacks, config=RunConfig) -> a Trainer
SummaryFn = Callable[[dict[str, float], dict[str, float]], dict[str, Any]]  # (eval before, after) -> fields


@dataclass(frozen=True)
class Objective:
    name: str  # a key of thrifty.config.objectives.OBJECTIVES, which holds its description and data
    prepare_data: PrepareFn
    arguments: ArgumentsFn
    build: BuildFn
    summary: SummaryFn
    # True: thrifty builds the batches (packing or padding collator, micro-batch search); False: the
    # trainer brings its own collator (DPO pads a chosen and a rejected sequence per pair).
    thrifty_batches: bool = True


REGISTRY: dict[str, Objective] = {}


def register(objective: Objective) -> Objective:
    from thrifty.config.objectives import OBJECTIVES

    if objective.name not in OBJECTIVES:
        raise KeyError(f"objective {objective.name!r} is not in thrifty.config.objectives.OBJECTIVES")
    REGISTRY[objective.name] = objective
    return objective
