"""The built-in rewards' table, filled by `register` lines in thrifty.rewards.builtin."""

from collections.abc import Callable

# name -> factory(max_completion_length) -> reward function f(prompts, completions, **columns)
BUILTINS: dict[str, Callable[[int], Callable[..., list[float]]]] = {}


def register(name: str):
    def add(factory):
        BUILTINS[name] = factory
        return factory

    return add
