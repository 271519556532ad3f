"""Reward specs -> rewards. A built-in registers under its name in its own module's table; a spec with
a colon is a Python function; anything else must be a reward-model folder."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from thrifty.errors import UserError
from thrifty.rewards.table import BUILTINS


@dataclass
class Reward:
    name: str
    func: Any  # a callable, or a sequence-classification model scoring prompt + answer
    tokenizer: Any = None  # the reward model's tokenizer (None for callables)


def builtin_names() -> list[str]:
    from thrifty.rewards import builtin  # noqa: F401  (fills BUILTINS)

    return sorted(BUILTINS)


def from_spec(spec: str, policy_tokenizer: Any, max_completion_length: int) -> Reward:
    from pathlib import Path

    if spec in builtin_names():
        return Reward(spec, guarded(BUILTINS[spec](max_completion_length), spec))
    if Path(spec).is_dir():
        from thrifty.rewards.model import reward_model

        model, tokenizer = reward_model(spec, policy_tokenizer)
        return Reward(spec, model, tokenizer)
    if ":" in spec:
        from thrifty.rewards.python import import_function

        return Reward(spec, guarded(import_function(spec), spec))
    raise UserError(
        f"train.reward {spec!r}: not a built-in ({', '.join(builtin_names())}), not a folder and not "
        "module:function"
    )


def guarded(func: Callable[..., list[float]], name: str) -> Callable[..., list[float]]:
    """The reward as TRL calls it; an exception inside ends the run with one line naming the reward."""

    def reward(prompts, completions, **columns):
        try:
            return [float(r) if r is not None else None for r in func(prompts, completions, **columns)]
        except Exception as exc:  # the user's code: say which reward failed, not TRL's stack
            raise UserError(
                f"train.reward {name!r} raised {type(exc).__name__}: {exc}".splitlines()[0]
            ) from None

    reward.__name__ = name.replace(":", ".").replace("/", "_")  # TRL logs rewards/<name>/mean
    return reward
