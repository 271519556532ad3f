"""Fine-tuning methods, one module each, registered by name.

A method turns a loaded base model into the model to train. Adding one is one module with a
`@register("name", ...)` function (from `thrifty.methods.registry`); no base classes. How the base is
loaded (random init, 4/8-bit) is part of the registration, so loading and adapting never disagree.
"""

from typing import TYPE_CHECKING

# Importing the modules runs their @register lines; cheap, no heavy imports at module level.
from thrifty.methods import full, ia3, lora, prompt  # noqa: F401
from thrifty.methods.registry import REGISTRY, Method, register

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from thrifty.config.schema import MethodConfig

__all__ = ["Method", "apply_method", "get_method", "method_names", "register"]


def method_names() -> list[str]:
    return sorted(REGISTRY)


def get_method(name: str) -> Method:
    return REGISTRY[name]


def apply_method(model: "PreTrainedModel", config: "MethodConfig") -> "PreTrainedModel":
    return get_method(config.name).apply(model, config)
