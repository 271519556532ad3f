"""`thrifty sweep FILE` as a function (the CLI verb and `thrifty.sweep` both call it): prepare the sweep
folder (resuming an interrupted sweep), warm-start when asked, run the trials, write the report."""

import sys
from pathlib import Path
from typing import Any


def run_sweep_file(
    path: Path,
    overrides: dict[str, Any],
    output: str | None = None,
    progress: bool = True,
    table: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """The sweep folder and the report's summary (best trials, rows, importance, text).
    `overrides`: sweep-section fields that win over the file (None values are ignored); `table`: print
    the trials table on stderr too. Raises `Preempted` after a stop (rerun to resume) and
    `runner.WorkersFailed` when worker processes failed."""
    from thrifty.sweep.report import write_report
    from thrifty.sweep.runner import prepare, run_sweep

    plan = prepare(path, overrides, output)
    suggestions = warm_start(plan) if plan.sweep.warm_start else []
    study = run_sweep(plan, suggestions, progress=progress)
    sweep_dir = Path(plan.sweep_dir)
    return sweep_dir, write_report(sweep_dir, study, table)


def warm_start(plan) -> list[dict]:
    """The autotune model's top configs for this sweep's data, as space values."""
    from thrifty.sweep.warm_start import suggest_for_plan

    suggestions = suggest_for_plan(plan)
    print(f"sweep: warm start with {len(suggestions)} suggested config(s)", file=sys.stderr)
    return suggestions
