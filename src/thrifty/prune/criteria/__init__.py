"""Importance criteria for structured pruning, one module each; importing this package registers them all
(see registry.py for what a criterion is)."""

from thrifty.prune.criteria import magnitude, taylor, wanda  # noqa: F401
from thrifty.prune.criteria.registry import CRITERIA, Criterion, Part, criterion_names, get_criterion

__all__ = ["CRITERIA", "Criterion", "Part", "criterion_names", "get_criterion"]
