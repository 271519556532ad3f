"""The rules `thrifty data clean` removes rows by, one module each; importing this package registers
them all (see registry.py for the table and the order they run in)."""

from thrifty.curate.clean.filters import exact, language, leakage, length, near_dup, repetition  # noqa: F401
from thrifty.curate.clean.filters.registry import ORDER, RULES, Removal, Row, Rule, Settings, ordered

__all__ = ["ORDER", "RULES", "Removal", "Row", "Rule", "Settings", "ordered"]
