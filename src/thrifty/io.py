"""Small file helpers: writes that never leave a half-written file that looks complete, and reads of
JSON/YAML files a user hands us that fail in one line naming the file and line."""

import json
import os
from pathlib import Path
from typing import Any

from thrifty.errors import UserError


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary sibling, fsync, then rename over `path` (atomic on POSIX)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, default=str)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def read_json(path: Path, what: str = "JSON file") -> Any:
    """`path` parsed; a missing, undecodable or malformed file is a UserError naming it (and the line)."""
    text = _read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: {what} is not valid JSON ({exc.msg})") from None


def read_yaml(path: Path, what: str = "YAML file") -> Any:
    import yaml

    text = _read_text(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{where}: {problem}; fix the YAML syntax of this {what}") from None


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}")
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM some editors add is not part of the text
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}: {what} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None
