"""The compare page's figures: the report's table (thrifty.compare.report.rows), the loss curves each
strategy logged, the quality-vs-cost frontier, and the PNG plots the comparison wrote."""

from pathlib import Path
from typing import Any

from thrifty.ui.folders import read_json

PLOTS = ("loss_curves.png", "quality_vs_cost.png")


def compare_view(compare_dir: Path, root: Path) -> dict[str, Any]:
    from thrifty.compare.report import cost_key, pareto, quality, rows

    results = [r for r in map(read_json, sorted((compare_dir / "results").glob("*.json"))) if r]
    gpu = _gpu(compare_dir)
    table = rows(results, gpu)
    columns = [c for c in (table[0] if table else {}) if c != "error"]
    front = pareto(table) if any(r["status"] == "ok" for r in table) else []
    cost, (qkey, _) = (cost_key(table), quality(table)) if table else ("$", ("eval loss", 1))
    points = [
        {"name": r["strategy"], "x": r.get(cost), "y": r.get(qkey), "front": r["strategy"] in front}
        for r in table
        if r["status"] == "ok" and r.get(cost) is not None
    ]
    curves = {r["strategy"]: r.get("loss_curve") or [] for r in results}
    rel = compare_dir.relative_to(root).as_posix()
    return {
        "columns": columns,
        "table": table,
        "front": front,
        "gpu": gpu,
        "chart": {"curves": curves, "points": points, "cost": cost, "quality": qkey},
        "plots": [f"{rel}/{p}" for p in PLOTS if (compare_dir / p).is_file()],
        "recommendation": _recommendation(compare_dir / "report.md"),
    }


def _gpu(compare_dir: Path) -> str | None:
    """The GPU the comparison priced on: named in report.md's dollars line ("cheapest listed rtx4090")."""
    try:
        text = (compare_dir / "report.md").read_text(encoding="utf-8")
    except OSError:
        return None
    marker = "cheapest listed "
    return text.split(marker, 1)[1].split(".")[0].split()[0] if marker in text else None


def _recommendation(report: Path) -> str:
    try:
        lines = report.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    line = next((line for line in lines if line.startswith("Use ")), "")
    return line.replace("**", "")  # markdown bold: the page shows text, never markup from a file
