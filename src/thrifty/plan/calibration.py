"""Close the loop: the plan made before each run against what the run measured."""

from typing import Any

from thrifty.plan.compute import past_runs


def calibration_rows(runs_dir: str = "runs") -> list[dict[str, Any]]:
    rows = []
    for run in past_runs(runs_dir):
        if not run.get("predicted_peak_memory_bytes") or not run.get("predicted_seconds"):
            continue
        measured = run.get("peak_memory_growth_bytes") or run["peak_memory_bytes"]  # CPU: growth over start
        rows.append(
            {
                "run": run["run"],
                "method": run.get("method"),
                "device": run.get("device"),
                "predicted_peak_memory_bytes": run["predicted_peak_memory_bytes"],
                "peak_memory_bytes": measured,
                "memory_error": run["predicted_peak_memory_bytes"] / measured - 1,
                "predicted_seconds": run["predicted_seconds"],
                "wall_seconds": run["wall_seconds"],
                "time_error": run["predicted_seconds"] / run["wall_seconds"] - 1,
            }
        )
    return rows
