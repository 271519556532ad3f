"""Fine-tuning methods, one module each, registered by name.

A method turns a loaded base model into the model to train. Adding one is one module with a
`@register("name")` function; no base classes.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from thrifty.config.schema import MethodConfig

ApplyFn = Callable[["PreTrainedModel", "MethodConfig"], "PreTrainedModel"]
_REGISTRY: dict[str, ApplyFn] = {}


def register(name: str) -> Callable[[ApplyFn], ApplyFn]:
    def wrap(fn: ApplyFn) -> ApplyFn:
        _REGISTRY[name] = fn
        return fn

    return wrap


def method_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def apply_method(model: "PreTrainedModel", config: "MethodConfig") -> "PreTrainedModel":
    _load_builtin()
    return _REGISTRY[config.name](model, config)


def _load_builtin() -> None:
    # Importing the modules runs their @register lines; cheap, no heavy imports at module level.
    from thrifty.methods import lora  # noqa: F401
