"""Which folders a verb may write into, and which it may replace: never anything of the user's.

Every folder a verb writes (a run, a comparison, a sweep, an export, an eval report) carries a marker
file, `.thrifty`, written when the folder is claimed. A verb writes only into a new folder, an empty
folder, or a folder with its own kind of marker; `--overwrite` / `--force` replace only a marked
folder, and never one that is (or holds) the current directory, the home directory, `/`, a git
repository's root or the data being read. A folder that is not thrifty's is refused in one line and
left exactly as it was.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from thrifty.errors import UserError
from thrifty.io import write_json_atomic

MARKER = ".thrifty"
KINDS = ("train", "compare", "sweep", "export", "eval", "prune", "data")


def marker_kind(folder: Path) -> str | None:
    """The kind in `folder`'s marker, or None when it has none (or an unreadable one)."""
    import json

    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None


def check_output(folder: Path, kind: str, overwrite: bool = False, protect: Iterable[Path] = ()) -> None:
    """Refuse, before any work, a `folder` this verb may not write into (or, with `overwrite`, replace)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"output {folder} exists and is not a folder; choose another --output")
    if not folder.is_dir():
        return
    found = marker_kind(folder)
    if found is None and any(folder.iterdir()):
        raise UserError(
            f"output {folder} is not empty and is not a thrifty folder (no {MARKER} file): thrifty writes "
            "only into a new or empty folder; choose another --output"
        )
    if found is not None and found != kind:
        raise UserError(
            f"output {folder} is a thrifty {found} folder, not {_article(kind)} {kind} one; choose another --output"
        )
    if overwrite and found is not None:
        check_replaceable(folder, protect)


def check_replaceable(folder: Path, protect: Iterable[Path] = ()) -> None:
    """A folder thrifty may delete: none that is or holds the working or home directory, the
    filesystem root, a git repository, or a protected path (the data)."""
    real = folder.resolve()
    guarded = {"the current directory": Path.cwd(), "your home directory": Path.home(), "/": Path("/")}
    for what, path in guarded.items():
        if _holds(real, path.resolve()):
            raise UserError(f"refusing to replace {folder}: it is or holds {what}; choose another --output")
    if (real / ".git").exists():
        raise UserError(f"refusing to replace {folder}: it is a git repository; choose another --output")
    for path in protect:
        if _holds(real, Path(path).resolve()):
            raise UserError(f"refusing to replace {folder}: it holds {path}, which this run reads")


def claim_output(folder: Path, kind: str, overwrite: bool = False, protect: Iterable[Path] = ()) -> Path:
    """Make `folder` this verb's output: checked, replaced when `overwrite` (a marked folder only),
    created, and marked. Returns it."""
    import shutil

    folder = Path(folder)
    check_output(folder, kind, overwrite, protect)
    if overwrite and marker_kind(folder) is not None:
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if marker_kind(folder) is None:
        write_marker(folder, kind)
    return folder


def write_marker(folder: Path, kind: str) -> None:
    from thrifty.version import __version__

    assert kind in KINDS, kind
    stamp = datetime.now(UTC).isoformat()
    write_json_atomic(folder / MARKER, {"kind": kind, "thrifty": __version__, "created_at": stamp})


def _holds(folder: Path, path: Path) -> bool:
    """`path` (resolved) is `folder` (resolved) or lies inside it."""
    return path == folder or folder in path.parents


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
