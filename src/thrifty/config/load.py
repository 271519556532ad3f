"""Read a YAML run config, apply `key=value` overrides, validate, and write the resolved config."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError
from thrifty.io import read_yaml as read_yaml_file


def load_config(
    path: str | Path | None = None, overrides: list[str] | Mapping[str, Any] | None = None
) -> RunConfig:
    """Config file (optional) + overrides, validated: `key=value` strings as the command line gives
    them (`train.learning_rate=1e-4`, values read as YAML), or a mapping of dotted keys to values
    (`{"train.max_steps": 50}`, the Python API)."""
    raw: dict[str, Any] = read_yaml(Path(path)) if path else {}
    if isinstance(overrides, Mapping):
        items = [(str(key), value) for key, value in overrides.items()]
    else:
        items = [parse_override(item) for item in overrides or []]
    for key, value in items:
        set_dotted(raw, key, value)
    return validate(raw, source=str(path) if path else "config")


def read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    data = read_yaml_file(path, "run config")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(
            f"{path}: the config must be a mapping of sections (model:, method:, data:, train:, output:)"
        )
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """`train.learning_rate=1e-4` -> ("train.learning_rate", 0.0001); values are parsed as YAML scalars/lists."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise UserError(
            f"override {item!r} must look like section.field=value, e.g. train.learning_rate=1e-4"
        )
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    # YAML 1.1 reads "1e-4" as a string; pydantic's lax mode turns it into the number the field wants.
    return key.strip(), parsed


def set_dotted(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UserError(f"override {key}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def validate(raw: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """First problem as one line: `train.learning_rate: must be > 0 (got -1)`, plus how many more."""
    errors = exc.errors()
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field; see `thrifty config schema` for the valid ones"
    elif "input" in first and first["type"] != "missing" and not isinstance(first["input"], dict):
        message += (
            f" (got {first['input']!r})"  # a whole section echoed back says nothing the message doesn't
        )
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{field}: {message}{more}" if field else f"{message}{more}"


def write_resolved(config: RunConfig, path: Path) -> None:
    """The exact settings a run used, so it can be reproduced with `thrifty train path`."""
    path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
