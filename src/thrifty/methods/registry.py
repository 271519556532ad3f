"""The method registry: name -> the function that adapts a loaded base, filled by each method module's
`@register("name")`. What a method *is* (quantization, adapter or whole model, ...) is data in
`thrifty.methods.table`; `get_method` joins the two.

It imports no method module, so the modules can import `register` from here without an import circle;
`thrifty.methods` imports the built-in modules once, which fills the table.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from thrifty.methods.table import METHODS, MethodInfo

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from thrifty.config.schema import MethodConfig

ApplyFn = Callable[["PreTrainedModel", "MethodConfig"], "PreTrainedModel"]


@dataclass(frozen=True)
class Method(MethodInfo):
    apply: ApplyFn | None = None


REGISTRY: dict[str, ApplyFn] = {}


def register(name: str) -> Callable[[ApplyFn], ApplyFn]:
    """Register the apply function of the method `name` (which must be in methods/table.py)."""
    if name not in METHODS:
        raise KeyError(f"method {name!r} is not in thrifty/methods/table.py; describe it there first")

    def wrap(fn: ApplyFn) -> ApplyFn:
        REGISTRY[name] = fn
        return fn

    return wrap
