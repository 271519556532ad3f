"""Fine-tuning methods, one module each, registered by name.

A method turns a loaded base model into the model to train. Adding one is one module with a
`@register("name", ...)` function; no base classes. How the base is loaded (random init, 4/8-bit)
is part of the registration, so loading and adapting never disagree.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from thrifty.config.schema import MethodConfig

ApplyFn = Callable[["PreTrainedModel", "MethodConfig"], "PreTrainedModel"]


@dataclass(frozen=True)
class Method:
    apply: ApplyFn
    description: str
    quantization: str | None = None  # "nf4" | "int8": the frozen base is loaded through bitsandbytes
    random_init: bool = False  # scratch: same architecture, weights not loaded
    adapter: bool = True  # saves a PEFT adapter; False saves the whole model


_REGISTRY: dict[str, Method] = {}


def register(name: str, description: str, **options) -> Callable[[ApplyFn], ApplyFn]:
    def wrap(fn: ApplyFn) -> ApplyFn:
        _REGISTRY[name] = Method(apply=fn, description=description, **options)
        return fn

    return wrap


def method_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def get_method(name: str) -> Method:
    _load_builtin()
    return _REGISTRY[name]


def apply_method(model: "PreTrainedModel", config: "MethodConfig") -> "PreTrainedModel":
    return get_method(config.name).apply(model, config)


def _load_builtin() -> None:
    # Importing the modules runs their @register lines; cheap, no heavy imports at module level.
    from thrifty.methods import full, ia3, lora, prompt  # noqa: F401
