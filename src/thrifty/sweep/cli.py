"""Arguments and entry points of `thrifty sweep FILE`, `thrifty sweep report DIR`, `thrifty sweep finalize DIR`."""

import argparse
import json
import sys
from pathlib import Path

from thrifty.errors import EXIT_PREEMPTED, Preempted, UserError

# --flag -> sweep-section field; the flag wins over the file.
SWEEP_FLAGS = {
    "sampler": (str, "Sampler: grid, random, lhs, sobol or tpe."),
    "trials": (int, "Trials to run in total."),
    "seed": (int, "Sampler seed."),
    "storage": (str, "SQLAlchemy URL of the study storage (default: SQLite study.db in the sweep folder)."),
    "workers": (int, "Local worker processes sharing the storage."),
    "search_fraction": (float, "Train trials on this stratified share of the data and of max_steps."),
    "pruner": (str, "Stop weak trials early: none, halving, hyperband or median."),
    "prune_eval_examples": (
        int,
        "Held-out examples of the pruner's in-training evaluations (a fixed seeded sample; the final one "
        "uses all).",
    ),
    "budget_minutes": (float, "Stop starting trials after this many minutes."),
    "budget_dollars": (float, "Stop once the trials' summed cost reaches this many dollars."),
    "gpu": (str, "Price trials on this GPU from the planner's catalog (e.g. a10g)."),
    "usd_per_hour": (float, "Price measured training seconds at this $/h instead."),
    "domain": (str, "Domain name written to results.jsonl."),
    "metric": (
        str,
        "Task metric scored on held-out answers after each trial (exact, contains, f1, rougeL, json).",
    ),
    "warm_start": (int, "Enqueue the top-N `thrifty autotune` suggestions from past sweeps first."),
}


def add_parser(verbs) -> None:
    sweep = verbs.add_parser(
        "sweep",
        help="Hyperparameter search over any config field (Optuna); `sweep report DIR`, `sweep finalize DIR`.",
        description="Run a sweep file (run config + sweep: section), resuming an interrupted one; "
        "`thrifty sweep report DIR` writes tables and plots; `thrifty sweep finalize DIR` trains the best "
        "config on the full data.",
    )
    add_sweep_arguments(sweep)
    sweep.set_defaults(func=run)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="+",
        metavar="FILE | report DIR | finalize DIR",
        help="A sweep YAML (run config + sweep: section) to run; or `report DIR` / `finalize DIR`.",
    )
    for flag, (kind, text) in SWEEP_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind, help=text)
    parser.add_argument("--output", help="Sweep folder (default runs/sweep-<domain>).")
    parser.add_argument(
        "--results", action="append", help="results.jsonl for --warm-start (repeatable; default runs/**)."
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="finalize: replace a finished DIR/final run."
    )
    parser.add_argument("--no-progress", action="store_true", help="No progress bars (for logs).")
    parser.add_argument("--json", action="store_true", help="Print the best trial(s) / report as JSON.")


def run(args: argparse.Namespace) -> int:
    action, *rest = args.target
    if action in ("report", "finalize"):
        if len(rest) != 1:
            raise UserError(f"usage: thrifty sweep {action} SWEEP_DIR")
        return report(Path(rest[0]), args.json) if action == "report" else finalize(Path(rest[0]), args)
    if rest:
        raise UserError(f"expected one sweep file, got {' '.join(args.target)}")
    return sweep(Path(action), args)


def sweep(path: Path, args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.sweep.report import best_rows
    from thrifty.sweep.run_file import run_sweep_file
    from thrifty.sweep.runner import WorkersFailed

    overrides = {flag: getattr(args, flag) for flag in SWEEP_FLAGS}
    if args.results:
        overrides["results_from"] = args.results
    try:
        _, summary = run_sweep_file(path, overrides, args.output, progress=not args.no_progress)
    except Preempted as exc:
        print(f"preempted: {exc}; rerun the same command to resume the sweep", file=sys.stderr)
        return EXIT_PREEMPTED
    except WorkersFailed as exc:  # each worker has printed its own line
        return exc.code
    print(json.dumps(best_rows(summary), indent=2) if args.json else summary["text"])
    return 0


def report(sweep_dir: Path, as_json: bool) -> int:
    from thrifty.sweep.objective import SweepPlan
    from thrifty.sweep.report import best_rows, write_report
    from thrifty.sweep.runner import open_plan_study

    plan = SweepPlan.load(sweep_dir)
    summary = write_report(sweep_dir, open_plan_study(plan))
    print(json.dumps(best_rows(summary), indent=2) if as_json else summary["text"])
    return 0


def finalize(sweep_dir: Path, args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.report import print_run_summary
    from thrifty.sweep.finalize import finalize as train_best

    result = train_best(sweep_dir, progress=not args.no_progress, overwrite=args.overwrite)
    if args.json:
        print(json.dumps(result.summary, indent=2, default=str))
    else:
        print_run_summary(result.summary, result.run_dir)
    return 0
