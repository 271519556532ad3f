"""The sweep page's figures: trials from results.jsonl, the best trial or Pareto set under the sweep's
objectives, parameter importance from report.md, and the PNG plots the sweep wrote."""

import re
from pathlib import Path
from typing import Any

from thrifty.ui.folders import read_json, read_jsonl

PLOTS = ("history.png", "params.png", "importance.png", "pareto.png")
_IMPORTANCE = re.compile(r"^- (\S+): ([0-9.]+)$")


def sweep_view(sweep_dir: Path, root: Path) -> dict[str, Any]:
    from thrifty.sweep.settings import MAXIMISED

    plan = read_json(sweep_dir / "sweep.json") or {}
    objectives = (plan.get("settings") or {}).get("objectives") or ["eval_loss"]
    rows = read_jsonl(sweep_dir / "results.jsonl")
    params = sorted({k for r in rows for k in (r.get("params") or {})})
    signs = {o: (-1 if o in MAXIMISED else 1) for o in objectives}
    best = pareto_set(rows, signs)
    trials = [
        {
            "trial": r.get("trial_id"),
            "state": r.get("state"),
            "params": [(r.get("params") or {}).get(p) for p in params],
            "values": [r.get(o) for o in objectives],
            "steps": r.get("steps"),
            "seconds": r.get("train_seconds"),
            "usd": r.get("cost_usd"),
            "best": r.get("trial_id") in best,
            "run": _rel(r.get("run_dir"), root),
        }
        for r in rows
    ]
    return {
        "objectives": [(o, "max" if signs[o] < 0 else "min") for o in objectives],
        "params": params,
        "trials": trials,
        "best": [t for t in trials if t["best"]],
        "importance": importance(sweep_dir / "report.md"),
        "plots": [
            f"{sweep_dir.relative_to(root).as_posix()}/{p}" for p in PLOTS if (sweep_dir / p).is_file()
        ],
        "settings": plan.get("settings") or {},
    }


def pareto_set(rows: list[dict[str, Any]], signs: dict[str, int]) -> set[Any]:
    """Trial ids of complete trials no other complete trial beats on every objective (one objective:
    the best trial, ties included)."""
    done = [r for r in rows if r.get("state") == "complete" and all(r.get(o) is not None for o in signs)]

    def key(r):
        return [signs[o] * r[o] for o in signs]

    def beats(a, b):
        return all(x <= y for x, y in zip(key(a), key(b), strict=True)) and key(a) != key(b)

    return {r.get("trial_id") for r in done if not any(beats(o, r) for o in done)}


def importance(report: Path) -> list[tuple[str, float]]:
    """The `## Parameter importance` lines of report.md (Optuna's fANOVA, written by the sweep)."""
    try:
        lines = report.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    if "## Parameter importance" not in lines:
        return []
    found = []
    for line in lines[lines.index("## Parameter importance") + 1 :]:
        if line.startswith("#") or line.startswith("!"):
            break
        if m := _IMPORTANCE.match(line.strip()):
            found.append((m.group(1), float(m.group(2))))
    return found


def _rel(path: str | None, root: Path) -> str | None:
    """A trial's run folder relative to the runs folder (None when it lies elsewhere)."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return None
