"""From a `thrifty data` action's parsed arguments to its options dataclass: every field the command
line has under the same name, plus the few that differ (given by the caller), so a new flag is one
argparse line and one field, not a third line in a hand-written copy."""

import argparse
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def options_from(args: argparse.Namespace, cls: type[T], **given: Any) -> T:
    """cls(...) from `args`: `given` first (renamed or derived flags such as progress=not no_progress),
    then each remaining dataclass field that `args` has by its own name."""
    values = {
        f.name: getattr(args, f.name) for f in fields(cls) if f.name not in given and hasattr(args, f.name)
    }
    return cls(**values, **given)
