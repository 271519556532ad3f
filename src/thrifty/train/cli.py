"""The `thrifty train` verb: its arguments and the function it maps to."""

import argparse
import contextlib
import json
import sys

from thrifty.config.args import add_train_arguments, config_from_args
from thrifty.errors import EXIT_PREEMPTED, Preempted


def add_parser(verbs) -> None:
    train = verbs.add_parser(
        "train",
        help="Fine-tune a model.",
        description="Fine-tune a model. Every config "
        "field can be overridden as section.field=value; `thrifty config schema` lists them.",
    )
    add_train_arguments(train)
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the thrifty run already in --output (never a folder thrifty did not write).",
    )
    train.add_argument("--plan-only", action="store_true", help="Print the plan for this run and exit.")
    train.add_argument("--json", action="store_true", help="Print summary.json instead of a table.")
    train.add_argument(
        "--resume",
        metavar="auto|PATH",
        help="Continue from a checkpoint: auto = the newest one that verifies (local, else checkpoint.remote; "
        "none: start fresh), or a RUN/checkpoints/step-N folder.",
    )
    train.add_argument(
        "--resume-force", action="store_true", help="Resume even if result-changing config fields differ."
    )
    train.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from thrifty.distributed.rank import launched
    from thrifty.quiet import quiet_libraries
    from thrifty.report import print_run_summary
    from thrifty.train.preflight import preflight

    config = config_from_args(args)
    preflight(config)  # before the heavy imports: a bad model or data path fails in about a second
    quiet_libraries()
    if launched():
        from thrifty.train.worker import run_worker

        return run_worker(config, args)
    if config.distributed.world_size > 1 and not args.plan_only:
        return launch_job(config, args)
    from thrifty.train.run import train

    try:
        # Libraries print to stdout (DeepSpeed's logger says which accelerator it found on import): while
        # the run works, stdout is stderr, so what this verb prints on stdout (--json) stays parseable.
        with contextlib.redirect_stdout(sys.stderr):
            result = train(
                config,
                progress=not args.no_progress,
                plan_only=args.plan_only,
                resume=args.resume,
                resume_force=args.resume_force,
            )
    except Preempted as exc:
        print(f"preempted: {exc}", file=sys.stderr)
        return EXIT_PREEMPTED
    if args.plan_only:
        from thrifty.plan.report import print_plan

        plan = result.summary["plan"]
        print(json.dumps(plan, indent=2, default=str)) if args.json else print_plan(plan)
        return 0
    if args.json:
        print(json.dumps(result.summary, indent=2, default=str))
    else:
        print_run_summary(result.summary, result.run_dir)
    return 0


def launch_job(config, args: argparse.Namespace) -> int:
    """`--nproc N`: this process checks, launches the workers through accelerate and reports."""
    from thrifty.report import print_run_summary
    from thrifty.train.folder import finished_summary
    from thrifty.train.launch import check_launchable, launch

    check_launchable(config)
    code, run_dir = launch(config, args.resume, args.resume_force, not args.no_progress)
    summary = finished_summary(run_dir) if code == 0 else None
    if summary is None:
        return code
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        print_run_summary(summary, run_dir)
    return 0
