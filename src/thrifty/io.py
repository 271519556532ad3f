"""Small file helpers: writes that never leave a half-written file that looks complete, and reads of the
files a user hands us (data, configs, JSON) that fail in one line naming the file, line and byte: one
decoder for all of them, which honours a BOM (UTF-8, UTF-16, UTF-32) and names a binary file for what
it looks like."""

import codecs
import json
import os
import threading
from pathlib import Path
from typing import Any

from thrifty.errors import UserError

# A BOM says the encoding for sure; UTF-32 LE is checked before UTF-16 LE because its BOM starts the same.
BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
# Binary formats people rename to .jsonl/.csv by mistake: naming one makes the fix obvious.
MAGIC = {
    b"\x1f\x8b": "it looks gzip-compressed; decompress it first",
    b"PK\x03\x04": "it looks like a zip archive (or .xlsx); extract it or export it as CSV/JSONL",
    b"\x89PNG": "it looks like a PNG image, not data",
    b"%PDF": "it looks like a PDF, not data",
    b"PAR1": "it looks like a Parquet file; name it .parquet",
}
FIX = "save it as UTF-8 (or UTF-16 with a BOM)"


def write_json_atomic(path: Path, data: Any, indent: int | None = 2) -> None:
    """Write to a temporary sibling, fsync, then rename over `path` (atomic on POSIX). `indent=None`:
    compact, for caches (a row of 576 hidden-state floats indented is one line per float).

    The sibling's name is unique, so two writers (sweep workers, a supervisor and its child) never
    interleave in one temporary file: the last rename wins whole.
    """
    # Not mkstemp: its 0600 mode would make a shared run folder's summary unreadable to the team.
    name = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(name, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=indent, default=str)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        name.unlink(missing_ok=True)
        raise


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
    return read_text(path)


def read_text(file: Path, limit: int | None = None) -> str:
    """The file as text (its first `limit` bytes, when given): the encoding its BOM names, else strict
    UTF-8. A binary or undecodable file is a UserError naming the line and offset (bytes) of the first
    bad byte."""
    with file.open("rb") as handle:
        raw = handle.read(limit if limit is not None else -1)
    bom, codec = next(((b, c) for b, c in BOMS if raw.startswith(b)), (b"", "utf-8"))
    # A cut-off read may end inside a character: the incremental decoder waits for its last bytes.
    final = limit is None or len(raw) < limit
    try:
        text = codecs.getincrementaldecoder(codec)().decode(raw[len(bom) :], final=final)
    except UnicodeDecodeError as exc:
        offset = len(bom) + exc.start
        before = raw[len(bom) : offset].decode(codec)  # decodes: the first bad byte is at offset
        what = f"not {codec.upper()} text (byte 0x{raw[offset]:02x} at offset {offset})"
        raise _not_text(file, raw, before, what) from None
    nul = text.find("\x00")
    if nul >= 0:
        # Text data never holds NUL: a BOM-less UTF-16 file decodes as UTF-8 with one every other byte.
        offset = len(bom) + len(text[:nul].encode(codec))
        raise _not_text(
            file, raw, text[:nul], f"NUL byte at offset {offset} (UTF-16 without a BOM, or binary?)"
        )
    return text


def _not_text(file: Path, raw: bytes, before: str, what: str) -> UserError:
    """`before` is the text ahead of the bad byte, to name its line in any encoding."""
    fix = next((fix for magic, fix in MAGIC.items() if raw.startswith(magic)), FIX)
    line = before.count("\n") + 1
    return UserError(f"{file}:{line}: {what}; {fix}")
