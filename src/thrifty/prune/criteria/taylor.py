"""Taylor: first-order estimate of the loss change when a unit's weights are zeroed, sum of |w · ∂L/∂w|
over its coupled weights (LLM-Pruner's element-wise first-order term; torch-pruning's TaylorImportance).
The gradient is the calibration language-modelling loss summed over batches."""

from thrifty.prune.criteria.registry import Criterion, Part, register


def score(parts: list[Part]):
    return sum((p.weight.float() * p.grad.float()).abs().sum(dim=1) for p in parts)


register(Criterion("taylor", "gradients", score, "|weight x gradient| of the calibration loss (LLM-Pruner)"))
