"""The method registry: a name -> `Method` table that each method module fills with `@register`.

It imports no method module, so the modules can import `register` from here without an import circle;
`thrifty.methods` imports the built-in modules once, which fills the table.
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


REGISTRY: dict[str, Method] = {}


def register(name: str, description: str, **options) -> Callable[[ApplyFn], ApplyFn]:
    def wrap(fn: ApplyFn) -> ApplyFn:
        REGISTRY[name] = Method(apply=fn, description=description, **options)
        return fn

    return wrap
