"""The figures the Runs table and the run page show, from a run folder's files."""

from pathlib import Path
from typing import Any

from thrifty.ui.folders import Folder, read_config, read_json, read_jsonl
from thrifty.ui.status import Status, checkpoints


def run_row(folder: Folder, status: Status, gpu: str | None) -> dict[str, Any]:
    """One Runs-table row. A finished run's numbers come from summary.json; a running or stopped one's
    from config.yaml and the metrics logged so far."""
    summary = read_json(folder.path / "summary.json") or {}
    config = read_config(folder.path)
    metrics = read_jsonl(folder.path / "metrics.jsonl")
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    speeds = [m["tokens_per_second"] for m in metrics if "tokens_per_second" in m]
    row = {
        "rel": folder.rel,
        "status": status.name,
        "detail": status.detail,
        "model": summary.get("model") or (config.get("model") or {}).get("name"),
        "method": summary.get("method") or (config.get("method") or {}).get("name"),
        "objective": summary.get("objective") or (config.get("train") or {}).get("objective"),
        "steps": summary.get("steps") or max((m.get("step", 0) for m in metrics), default=0),
        "max_steps": (config.get("train") or {}).get("max_steps"),
        "eval_before": summary.get("eval_loss_before", evals[0] if evals else None),
        "eval_after": summary.get("eval_loss_after", evals[-1] if len(evals) > 1 else None),
        "tokens_per_second": summary.get("tokens_per_second", speeds[-1] if speeds else None),
        "peak_memory_gib": _gib(summary.get("peak_memory_bytes")),
        "predicted_memory_gib": _gib(summary.get("predicted_peak_memory_bytes")),
        "seconds": summary.get("wall_seconds"),
        "predicted_seconds": summary.get("predicted_seconds"),
        "usd": None,
        "started": summary.get("started_at", ""),
    }
    if gpu and summary.get("predicted_flops") and summary.get("train_tokens"):
        row["usd"] = _dollars(summary, gpu)
    return row


def priced_gpus() -> list[str]:
    """The catalog's GPUs that have a price (the Runs table's "$ on" choices), in catalog order."""
    from thrifty.plan.catalog import gpus, prices

    priced = {row["gpu"] for row in prices().get("prices", [])}
    return [key for key in gpus() if key in priced]


def _dollars(summary: dict[str, Any], gpu: str) -> float | None:
    from thrifty.compare.dollars import run_dollars
    from thrifty.errors import UserError

    try:
        return run_dollars(summary, summary.get("method", "lora"), gpu)["usd"]
    except (UserError, KeyError, ZeroDivisionError):
        return None


def _gib(value: float | None) -> float | None:
    return value / 2**30 if isinstance(value, int | float) else None


def run_detail(folder: Folder) -> dict[str, Any]:
    """Everything the run page shows besides the live curves."""
    path = folder.path
    summary = read_json(path / "summary.json") or {}
    return {
        "summary": summary,
        "plan": _plan_rows(summary),
        "checkpoints": checkpoints(path),
        "config_text": _text(path / "config.yaml"),
        "eval": read_json(path / "eval.json"),
        "export": export_files(path / "export"),
        "ollama": ollama_line(path),
    }


def _plan_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, planned, measured): the plan thrifty made before training beside what the run measured."""
    if not summary:
        return []
    pairs = [
        ("peak memory GiB", "predicted_peak_memory_bytes", "peak_memory_bytes", 2**30),
        ("seconds", "predicted_seconds", "wall_seconds", 1),
        ("tokens", "predicted_tokens", "train_tokens", 1),
        ("MFU", "plan_mfu", "achieved_mfu", 1),
    ]
    rows = []
    for what, planned, measured, scale in pairs:
        if planned in summary or measured in summary:
            rows.append((what, _fmt(summary.get(planned), scale), _fmt(summary.get(measured), scale)))
    return rows


def _fmt(value: Any, scale: float) -> str:
    return "-" if not isinstance(value, int | float) else f"{value / scale:.4g}"


def _text(path: Path, limit: int = 200_000) -> str:
    """A text file's first `limit` characters (bytes the page can show), or '' when missing."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:limit]
    except OSError:
        return ""


def export_files(folder: Path) -> list[dict[str, Any]]:
    if not folder.is_dir():
        return []
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and ".work" not in p.parts]
    return [{"name": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size} for p in files[:200]]


def ollama_line(run_dir: Path) -> str | None:
    """The `ollama create NAME -f .../Modelfile` line the export wrote into its README (with the name
    it chose), else one named after the run folder when there is a Modelfile."""
    for readme in sorted((run_dir / "export").glob("**/README.md")):
        for line in _text(readme).splitlines():
            if "ollama create " in line:
                return line[line.index("ollama create ") :].strip().strip("`")
    for modelfile in sorted((run_dir / "export").glob("*/Modelfile")):
        return f"ollama create {run_dir.name} -f {modelfile}"
    return None


def metrics_series(rows: list[dict[str, Any]]) -> dict[str, list[list[float]]]:
    """metrics.jsonl as [step, value] series for the charts."""
    keys = ("loss", "eval_loss", "learning_rate", "tokens_per_second", "grad_norm")
    series: dict[str, list[list[float]]] = {k: [] for k in keys}
    for row in rows:
        for key in keys:
            if isinstance(row.get(key), int | float) and "step" in row:
                series[key].append([row["step"], row[key]])
    return series
