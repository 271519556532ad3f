"""Magnitude: the squared L2 norm of every weight coupled to a unit (torch-pruning's group magnitude
importance with p=2). Needs no calibration data; blind to which inputs are large."""

from thrifty.prune.criteria.registry import Criterion, Part, register


def score(parts: list[Part]):
    return sum(p.weight.float().pow(2).sum(dim=1) for p in parts)


register(Criterion("magnitude", "weights", score, "squared L2 norm of the unit's weights (no data needed)"))
