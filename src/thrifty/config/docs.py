"""Document every config field from the schema itself, so help text and docs never drift."""

import types
import typing
from typing import Any

from pydantic import BaseModel

from thrifty.config.schema import RunConfig


def field_rows(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[dict[str, Any]]:
    """One row per leaf field: dotted name, type, default, help."""
    rows = []
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(field_rows(annotation, dotted + "."))
            continue
        rows.append(
            {
                "field": dotted,
                "type": type_name(annotation),
                "default": info.get_default(call_default_factory=True),
                "help": info.description or "",
            }
        )
    return rows


def type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) if not isinstance(a, str) else a for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is list:
        return f"list[{type_name(typing.get_args(annotation)[0])}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))
