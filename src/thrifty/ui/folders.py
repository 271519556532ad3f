"""Find what thrifty wrote under the runs folder: runs, sweeps and comparisons, by their marker files."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_DEPTH = 4  # runs/SWEEP/trials/trial-0003 is 3 deep; deeper folders are model weights and the like
# Folders inside a run that never hold another run or sweep: not walked (a checkpoint folder has many files).
SKIP = {"checkpoints", "adapter", "model", "tokenizer", "export", "trainer", "merged", "data", "gguf"}


@dataclass
class Folder:
    kind: str  # train | sweep | compare
    path: Path
    rel: str  # relative to the runs folder, with `/`: what the browser sends back


def find(root: Path) -> list[Folder]:
    """Every run, sweep and comparison under `root`, in path order. A run is a folder with a train
    marker, or (the runs inside a comparison carry none) a config.yaml beside metrics.jsonl/summary.json."""
    found: list[Folder] = []
    _walk(root.resolve(), root.resolve(), 0, found)
    return sorted(found, key=lambda f: f.rel)


def _walk(root: Path, folder: Path, depth: int, found: list[Folder]) -> None:
    kind = folder_kind(folder)
    if kind and folder != root:
        found.append(Folder(kind, folder, folder.relative_to(root).as_posix()))
        if kind == "train":
            return
    if depth >= MAX_DEPTH:
        return
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return
    for child in children:
        if not child.name.startswith(".") and child.name not in SKIP:
            _walk(root, child, depth + 1, found)


def locate(root: Path, rel: str, kind: str, starting=lambda path: False) -> Folder:
    """The thrifty folder of `kind` at `rel` (a path the browser sent), inside `root` (see
    security.inside); FileNotFoundError when there is none and `starting(path)` says no run is on its way."""
    from thrifty.ui.security import inside

    path = inside(root, rel)
    if folder_kind(path) != kind and not (kind == "train" and not path.exists() and starting(path)):
        raise FileNotFoundError(f"no {kind} folder at {rel}")
    return Folder(kind, path, path.relative_to(root.resolve()).as_posix())


def folder_kind(folder: Path) -> str | None:
    from thrifty.outputs import marker_kind

    kind = marker_kind(folder)
    if kind in ("train", "sweep", "compare"):
        return kind
    if kind is None and (folder / "config.yaml").is_file():
        if (folder / "metrics.jsonl").is_file() or (folder / "summary.json").is_file():
            return "train"
    return None


def read_json(path: Path) -> Any:
    """The file's JSON, or None when it is missing or half-written (the page shows what is there)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Complete lines only: a line being appended right now is skipped, not an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_config(run_dir: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}
