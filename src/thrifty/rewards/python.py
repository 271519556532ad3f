"""`module:function` rewards, imported from the working directory or PYTHONPATH.

The function is called as TRL calls reward functions: f(prompts, completions, **columns) -> list[float],
one reward per completion (None for "no opinion"); `columns` holds the data's other columns (thrifty's
GRPO data: `answer`, the reference answer) and TRL's extras (completion_ids, trainer_state, ...), so
accept **kwargs."""

import importlib
import sys
from collections.abc import Callable

from thrifty.errors import UserError


def import_function(spec: str) -> Callable:
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise UserError(f"train.reward {spec!r}: write module:function (e.g. my_rewards:score)")
    if "" not in sys.path:
        sys.path.insert(0, "")  # the working directory, as `python -m` has it
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module's own error at import
        raise UserError(
            f"train.reward {spec!r}: cannot import {module_name} ({type(exc).__name__}: {exc})".splitlines()[
                0
            ]
        ) from None
    func = getattr(module, name, None)
    if not callable(func):
        raise UserError(f"train.reward {spec!r}: {module_name} has no function {name}")
    return func
