"""Fine-tuning methods, one module each, registered by name.

A method turns a loaded base model into the model to train. Adding one is a row in `methods/table.py`
(what it is: quantized base, adapter or whole model, random init, packable) and one module with a
`@register("name")` function (from `thrifty.methods.registry`); no base classes. How the base is loaded
comes from the table row, so loading and adapting never disagree.
"""

from dataclasses import asdict
from typing import TYPE_CHECKING

# Importing the modules runs their @register lines; cheap, no heavy imports at module level.
from thrifty.methods import full, ia3, lora, prompt  # noqa: F401
from thrifty.methods.registry import REGISTRY, Method, register
from thrifty.methods.table import METHODS, method_names

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from thrifty.config.schema import MethodConfig

__all__ = ["Method", "apply_method", "get_method", "method_names", "register"]


def get_method(name: str) -> Method:
    return Method(**asdict(METHODS[name]), apply=REGISTRY[name])


def apply_method(model: "PreTrainedModel", config: "MethodConfig") -> "PreTrainedModel":
    return REGISTRY[config.name](model, config)
