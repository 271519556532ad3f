"""The files of a resumable curation job: OUT.partial (rows so far), OUT.state.json (what made them and
how far they got) and OUT itself, which appears only when the job is complete.

Commit protocol, per batch: append the batch's rows to OUT.partial, flush and fsync, then rewrite the
state atomically with the partial file's byte length. A kill at any moment leaves a state that names a
prefix of OUT.partial made of whole rows of whole batches; a restart truncates OUT.partial to that length
(dropping a half-written last line and the rows of a batch the state never recorded) and goes on from
the next example. A rerun with other settings or another input is refused unless --overwrite.
"""

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.errors import UserError
from thrifty.io import read_json, write_json_atomic

STATE_VERSION = 1
HASH_CHUNK = 1 << 20  # bytes read at a time while hashing the input


@dataclass
class JobFiles:
    output: Path  # the finished file
    partial: Path  # rows so far
    state: Path  # settings, input hash and progress

    @classmethod
    def for_output(cls, output: str | Path) -> "JobFiles":
        out = Path(output).expanduser()
        return cls(out, out.with_name(out.name + ".partial"), out.with_name(out.name + ".state.json"))

    def remove(self) -> None:
        for path in (self.output, self.partial, self.state):
            path.unlink(missing_ok=True)


@dataclass
class Progress:
    done: int = 0  # input examples handled (written or skipped), in input order
    written: int = 0
    skipped: int = 0  # the model's answer equalled the reference
    bytes: int = 0  # length of OUT.partial holding exactly the written rows

    def as_dict(self) -> dict[str, int]:
        return {"done": self.done, "written": self.written, "skipped": self.skipped, "bytes": self.bytes}


def input_hash(path: Path) -> str:
    """sha256 of the input file (of every file, with its relative path, for a saved datasets folder):
    a resumed job must continue the same data, not a file that was edited in between."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def check_start(files: JobFiles, settings: dict[str, Any], overwrite: bool) -> Progress | None:
    """Where the job stands before anything is written: None to start afresh, else the progress of an
    interrupted run with the same settings. A finished output or a mismatched state is refused in one
    line unless `overwrite` (then the caller starts afresh and `start_fresh` removes the old files)."""
    if overwrite:
        return None
    if files.output.exists():
        raise UserError(f"{files.output} exists; pass --overwrite to build it again")
    if not files.state.is_file():
        return None
    state = read_json(files.state, "curation state")
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise UserError(
            f"{files.state}: not a state file this thrifty wrote; pass --overwrite to start again"
        )
    if state.get("settings") != settings:
        changed = sorted(k for k in {*settings, *state.get("settings", {})} if _differs(state, settings, k))
        raise UserError(
            f"{files.partial} was started with other settings ({', '.join(changed)} differ); rerun with the "
            "same input and flags to continue, or pass --overwrite to start again"
        )
    progress = Progress(**{k: int(state["progress"][k]) for k in Progress().as_dict()})
    size = files.partial.stat().st_size if files.partial.is_file() else 0
    if size < progress.bytes:
        raise UserError(
            f"{files.partial} is shorter than {files.state} records ({size} < {progress.bytes} bytes); "
            "pass --overwrite to start again"
        )
    return progress


def _differs(state: dict[str, Any], settings: dict[str, Any], key: str) -> bool:
    return state.get("settings", {}).get(key) != settings.get(key)


def start_fresh(files: JobFiles) -> None:
    """Remove what an earlier job left (only called once the input and model have been checked)."""
    files.remove()
    files.output.parent.mkdir(parents=True, exist_ok=True)


def reopen(files: JobFiles, progress: Progress):
    """OUT.partial opened for appending, cut back to the committed rows of `progress`."""
    handle = open(files.partial, "a+b")
    handle.truncate(progress.bytes)
    handle.seek(0, os.SEEK_END)
    return handle


def commit(files: JobFiles, handle, lines: list[str], progress: Progress, settings: dict[str, Any]) -> None:
    """Append `lines` (JSON rows), make them durable, then record the new progress: in that order, so the
    state never names rows that are not on disk."""
    handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
    handle.flush()
    os.fsync(handle.fileno())
    progress.bytes = handle.tell()
    write_json_atomic(
        files.state, {"version": STATE_VERSION, "settings": settings, "progress": progress.as_dict()}
    )


def finish(files: JobFiles) -> None:
    """The job is complete: OUT.partial becomes OUT (one rename), and the state is no longer needed."""
    os.replace(files.partial, files.output)
    files.state.unlink(missing_ok=True)
