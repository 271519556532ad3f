"""The start-a-run form, generated from the run config's pydantic schema (every field, its help text,
its default), and the submitted form turned into the CLI's own `section.field=value` overrides."""

import typing
from typing import Any

import yaml

from thrifty.config.docs import field_rows
from thrifty.errors import UserError

# Chosen by the page, not the form: the folder is the "run folder" field inside the runs folder, and the
# page never replaces a run (there is no --overwrite from the browser).
NOT_IN_FORM = {"output.dir", "output.overwrite"}
OPEN_SECTIONS = ("model", "method", "data", "train")  # shown unfolded; the rest start folded


def form_sections() -> list[dict[str, Any]]:
    """[{name, open, fields: [{field, help, type, value, choices}]}], in the schema's order."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for row in field_rows():
        if row["field"] in NOT_IN_FORM:
            continue
        section = row["field"].split(".", 1)[0]
        sections.setdefault(section, []).append(
            {**row, "value": as_text(row["default"]), "choices": choices(row)}
        )
    return [{"name": k, "open": k in OPEN_SECTIONS, "fields": v} for k, v in sections.items()]


def choices(row: dict[str, Any]) -> list[str] | None:
    """A select's options: true/false for a bool, the values of a Literal (the type name lists them)."""
    if row["type"] == "bool":
        return ["true", "false"]
    parts = [p.strip() for p in row["type"].split("|")]
    named = {"str", "int", "float", "bool", "null", "dict", "list"}
    if all(p and p not in named and not p.startswith(("list[", "dict[")) for p in parts):
        return ["" if p == "null" else p for p in parts]
    return None


def as_text(value: Any) -> str:
    """A default as the user would type it on the command line (`train.x=VALUE`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return str(value)


def overrides_from(form: typing.Mapping[str, str]) -> list[str]:
    """`field=value` for each form field that differs from its default, in the schema's order; an
    unknown field is refused as the CLI refuses it (through validation)."""
    defaults = {row["field"]: as_text(row["default"]) for row in field_rows()}
    out = []
    for field, value in form.items():
        if field.startswith("_") or field in NOT_IN_FORM:
            continue  # _csrf, _name: the page's own fields
        if "\n" in value or "\r" in value:
            raise UserError(f"{field}: one line only")
        if field not in defaults or value.strip() != defaults[field]:
            out.append(f"{field}={value.strip()}")
    return out


def validate_start(overrides: list[str]):
    """The CLI's checks, in the CLI's words: the schema (one line per problem) and the inputs' preflight."""
    from thrifty.config.load import load_config
    from thrifty.train.preflight import preflight

    config = load_config(None, overrides)
    preflight(config)
    return config
