"""What every `thrifty data` action reads and writes: a data file as its raw records (kept as the user
wrote them, so an output keeps the input's columns) beside the canonical examples thrifty trains on,
the checks on flags and output paths every action shares, and writes that never look complete early.

Rows are numbered from 0 in file order; removed.jsonl, caches and `augmented_from` use these numbers.
"""

import csv
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.data.augmented import AUGMENTED  # noqa: F401  (the column that marks a generated row)
from thrifty.errors import UserError

WRITERS = (".jsonl", ".json", ".csv", ".parquet")
# The --format choices of the data actions: training's data.format values.
FORMATS = ("auto", "alpaca", "chat", "sharegpt", "prompt_completion", "text")
INSTRUCTION_FORMATS = tuple(f for f in FORMATS if f != "text")  # for actions that need prompts and answers


@dataclass
class Table:
    """A data file: its raw records, their canonical examples (same order) and the detected format."""

    source: str  # as the user named it (may be pkg:PACKAGE/FILE)
    path: Path  # resolved
    records: list[dict[str, Any]]
    examples: list[dict[str, Any]]
    format: str

    def __len__(self) -> int:
        return len(self.records)

    def columns(self) -> list[str]:
        """The input's columns in first-seen order: what an output keeps."""
        seen: dict[str, None] = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return list(seen)


def read_table(
    path: str, fmt: str = "auto", split: str = "train", prepare: Callable[[dict], dict] | None = None
) -> Table:
    """The file's records and examples, with train's one-line errors for a missing, unreadable, empty
    or malformed file or an unknown format. `prepare` maps each record first (select gives rows without
    an answer an empty one); the Table keeps the prepared records."""
    from thrifty.config.schema import DataConfig
    from thrifty.data.formats import detect_format, to_canonical
    from thrifty.data.readers import check_readable, read_records, resolve_data_path

    check_readable(path)
    file = resolve_data_path(path)
    records = read_records(path, split)
    if not records:
        raise UserError(f"{file}: the dataset is empty; add examples")
    if prepare is not None:
        records = [prepare(record) for record in records]
    config = DataConfig(format=fmt)  # validates the format name as train does
    columns = sorted({key for record in records[:100] for key in record})
    detected = detect_format(columns, config.format, str(file))
    examples = [to_canonical(r, detected, f"{file}: record {i + 1}") for i, r in enumerate(records)]
    return Table(path, file, records, examples, detected)


def prompt_text(example: dict[str, Any]) -> str:
    """Everything before the last answer, as one string (plain text: the text itself)."""
    messages = example.get("messages")
    if not messages:
        return example.get("text", "")
    last = last_answer_index(messages)
    return "\n".join(m["content"] for m in messages[:last])


def answer_text(example: dict[str, Any]) -> str:
    """The last assistant turn ("" for plain text, which has no answer)."""
    messages = example.get("messages")
    if not messages:
        return ""
    return messages[last_answer_index(messages)]["content"]


def last_answer_index(messages: list[dict[str, str]]) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "assistant")


def check_fraction(flag: str, value: float | None) -> None:
    """A share of the data: (0, 1]."""
    if value is not None and not 0 < value <= 1:
        raise UserError(f"{flag} {value:g}: must be above 0 and at most 1 (a share of the rows)")


def check_threshold(flag: str, value: float | None) -> None:
    """A similarity or score threshold: [0, 1]."""
    if value is not None and not 0 <= value <= 1:
        raise UserError(f"{flag} {value:g}: must be between 0 and 1")


def check_positive(flag: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise UserError(f"{flag} {value}: must be a positive whole number")


def check_output(output: str, inputs: list[str | Path]) -> Path:
    """OUTPUT as a path we may write: a known file type, not one of the inputs (nothing the user had is
    overwritten), in a folder that exists."""
    from thrifty.data.readers import resolve_data_path

    out = Path(output).expanduser()
    if out.suffix.lower() not in WRITERS:
        raise UserError(f"{out}: unsupported output type {out.suffix!r}; use {', '.join(WRITERS)}")
    for given in inputs:
        source = resolve_data_path(given) if isinstance(given, str) else given
        if out.resolve() == source.resolve():  # resolve(): a symlink or ./ spelling is the same file
            raise UserError(
                f"{out}: the output is the input; write to another file (the input stays as it is)"
            )
    if not out.parent.is_dir():
        raise UserError(f"{out.parent}: no such folder for the output; create it first")
    return out


def sibling(output: Path, name: str) -> Path:
    """A file written beside OUTPUT: clean.jsonl -> clean.removed.jsonl."""
    return output.with_name(f"{output.stem}.{name}")


def write_records(path: Path, records: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """`records` to `path` in the type its suffix names, atomically (a temporary sibling renamed over
    it): a reader never sees half a file. CSV and Parquet take `columns` (the input's) as their header."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        _write(tmp, path.suffix.lower(), records, columns)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write(tmp: Path, suffix: str, records: list[dict[str, Any]], columns: list[str] | None) -> None:
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = columns or list(dict.fromkeys(k for r in records for k in r))
        table = pa.table({n: [r.get(n) for r in records] for n in names})
        pq.write_table(table, tmp)
        return
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        if suffix == ".jsonl":
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif suffix == ".json":
            json.dump(records, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
        else:
            names = columns or list(dict.fromkeys(k for r in records for k in r))
            writer = csv.DictWriter(handle, fieldnames=names, extrasaction="ignore")
            writer.writeheader()
            writer.writerows({k: _cell(v) for k, v in r.items()} for r in records)
        handle.flush()
        os.fsync(handle.fileno())


def _cell(value: Any) -> Any:
    """A CSV cell: nested values (messages) as JSON, so nothing is lost."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def load_tokenizer(model: str, trust_remote_code: bool = False) -> Any:
    """Only the tokenizer of `model` (a bundled name, a folder or a cached hub id), loaded as `thrifty
    train` loads it: no weights, so counting tokens costs seconds, not the model's memory."""
    from thrifty.config.schema import ModelConfig
    from thrifty.models.load import load_tokenizer as load
    from thrifty.models.registry import resolve_model

    config = ModelConfig(name=model, trust_remote_code=trust_remote_code)
    return load(resolve_model(model), config)
