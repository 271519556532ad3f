"""A run's status from its files: summary.json (finished), a live `thrifty train` process writing to it
(running, read from /proc), checkpoints whose manifest is complete (preempted: resumable), else failed.

thrifty train writes summary.json last and a checkpoint's manifest.json last, so neither is ever seen
half-written; the exit code is known only for runs this page started (kept in its process records)."""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FINISHED, RUNNING, PREEMPTED, FAILED = "finished", "running", "preempted", "failed"
EXIT_PREEMPTED = 75  # thrifty.errors.EXIT_PREEMPTED: a stop that wrote a checkpoint


@dataclass
class Status:
    name: str  # finished | running | preempted | failed
    detail: str
    resumable: bool = False
    pid: int | None = None


def checkpoints(run_dir: Path) -> list[dict[str, Any]]:
    """Every RUN/checkpoints/step-N, newest first, with its manifest's state: complete (every listed file
    there with its size), incomplete (the write did not finish: never resumed from) or damaged."""
    root = run_dir / "checkpoints"
    found = []
    for path in sorted(root.glob("step-*"), reverse=True) if root.is_dir() else []:
        digits = path.name.removeprefix("step-")
        if path.is_dir() and digits.isdigit():
            found.append({"step": int(digits), "name": path.name, **_manifest_state(path)})
    return found


def _manifest_state(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
    except FileNotFoundError:
        return {"state": "incomplete", "problem": "no manifest.json (the write did not finish)", "bytes": 0}
    except (OSError, ValueError, KeyError, TypeError):
        return {"state": "damaged", "problem": "manifest.json is unreadable", "bytes": 0}
    total = 0
    for rel, meta in files.items():
        path = folder / rel
        size = path.stat().st_size if path.is_file() else None
        if size != meta.get("bytes"):
            return {"state": "damaged", "problem": f"{rel} is missing or has another size", "bytes": total}
        total += size
    # Sizes only: hashing every checkpoint on each page view would read gigabytes; --resume auto checks
    # the sha256 of each file before it trusts one.
    return {"state": "complete", "problem": "", "bytes": total, "created": manifest.get("created_at", "")}


def run_status(run_dir: Path, live: dict[Path, int], exit_code: int | None = None) -> Status:
    """`live`: run folder (resolved) -> pid of a `thrifty train` writing to it; `exit_code`: how a
    process this page started ended (None: unknown or still running)."""
    if (run_dir / "summary.json").is_file():
        return Status(FINISHED, "summary.json written")
    pid = live.get(run_dir.resolve())
    if pid is not None:
        return Status(RUNNING, f"thrifty train pid {pid}", pid=pid)
    usable = [c for c in checkpoints(run_dir) if c["state"] == "complete"]
    code = f"exit {exit_code}; " if exit_code is not None else ""
    if usable and exit_code in (None, EXIT_PREEMPTED):
        return Status(PREEMPTED, f"{code}resumable from step {usable[0]['step']}", resumable=True)
    if usable:
        return Status(FAILED, f"{code}resumable from step {usable[0]['step']}", resumable=True)
    return Status(FAILED, f"{code}no summary.json and no complete checkpoint")


def live_trainers() -> dict[Path, int]:
    """Run folder -> pid of the `thrifty train` process writing it, from /proc (Linux; elsewhere empty).
    The folder is its --output (or output.dir=) argument, relative to the process's cwd. A launched job
    (--nproc) has a launcher and workers with the same folder: the launcher (the one whose parent is not
    one of them) is the pid to signal, as it passes a stop on to its workers."""
    found: dict[Path, dict[int, int]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
            if _is_train(argv) and (out := _output_of(argv)):
                run = (Path(os.readlink(entry / "cwd")) / out).resolve()
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found.setdefault(run, {})[int(entry.name)] = ppid
        except (OSError, ValueError, IndexError):  # the process ended meanwhile, or is another user's
            continue
    return {run: min(p for p, parent in pids.items() if parent not in pids) for run, pids in found.items()}


def _is_train(argv: list[str]) -> bool:
    """`python -m thrifty train ...` or the `thrifty train ...` script (not the UI, not a launcher)."""
    for i, arg in enumerate(argv[:-1]):
        if (arg == "thrifty" and i and argv[i - 1] == "-m") or arg.endswith("/thrifty"):
            return argv[i + 1] == "train"
    return False


def _output_of(argv: list[str]) -> str | None:
    out = None
    for i, arg in enumerate(argv):
        if arg in ("--output", "-o") and i + 1 < len(argv):
            out = argv[i + 1]
        elif arg.startswith("--output="):
            out = arg.split("=", 1)[1]
        elif arg.startswith("output.dir="):
            out = arg.split("=", 1)[1]
    return out or _config_output(argv)


def _config_output(argv: list[str]) -> str | None:
    """`thrifty train RUN/config.yaml --resume auto`: the folder is the config file's output.dir."""
    import yaml

    for arg in argv:
        if arg.endswith((".yaml", ".yml")) and "=" not in arg:
            try:
                data = yaml.safe_load(Path(arg).read_text(encoding="utf-8"))
                return (data.get("output") or {}).get("dir")
            except (OSError, yaml.YAMLError, AttributeError):
                return None
    return None
