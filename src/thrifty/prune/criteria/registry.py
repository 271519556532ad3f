"""The table of importance criteria for structured pruning; each criterion module registers itself.

A criterion scores units (attention heads, KV groups, MLP channels) from their coupled weight slices.
Each slice is a `Part`: the rows of one weight matrix that belong to each unit, laid out as
(units, values), with the matching gradient or input-activation norms when the criterion needs them.
A low score is pruned first.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thrifty.errors import UserError


@dataclass
class Part:
    weight: Any  # (units, values): this matrix's weights that go with each unit
    grad: Any = None  # same shape: calibration-loss gradient (taylor)
    input_norm: Any = None  # same shape: L2 norm over calibration tokens of the input each weight reads
    # (wanda; only on the consumer side: down_proj's and o_proj's inputs are the pruned channels)


@dataclass(frozen=True)
class Criterion:
    name: str
    needs: str  # "weights", "gradients" or "activations": what the calibration pass must collect
    score: Callable[[list[Part]], Any]  # parts -> (units,) float tensor
    help: str


CRITERIA: dict[str, Criterion] = {}


def register(criterion: Criterion) -> Criterion:
    CRITERIA[criterion.name] = criterion
    return criterion


def get_criterion(name: str) -> Criterion:
    if name not in CRITERIA:
        raise UserError(f"--criterion {name!r}: unknown; choose one of {', '.join(sorted(CRITERIA))}")
    return CRITERIA[name]


def criterion_names() -> list[str]:
    return sorted(CRITERIA)
