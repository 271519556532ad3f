"""The `thrifty run` (supervised training) and `thrifty launch skypilot` verbs: their arguments and functions."""

import argparse

from thrifty.config.args import add_train_arguments, config_from_args
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR


def add_parser(verbs) -> None:
    run = verbs.add_parser(
        "run",
        help="Train under a supervisor that resumes after preemptions and crashes.",
        description=f"Run `thrifty train ... --resume auto` until it finishes: after exit {EXIT_PREEMPTED} "
        f"(preempted) or a crash it waits and resumes; exit {EXIT_USER_ERROR} (bad input) stops at once.",
    )
    add_train_arguments(run)
    run.add_argument("--restarts", type=int, default=10, help="Most reruns after the first attempt.")
    run.add_argument(
        "--backoff", type=float, default=5.0, help="Seconds before the first rerun; doubles each time."
    )
    run.set_defaults(func=cmd_run, resume=None)

    launch = verbs.add_parser("launch", help="Write a cloud job that runs thrifty (SkyPilot).")
    targets = launch.add_subparsers(dest="launch_verb", required=True, metavar="TARGET")
    sky = targets.add_parser("skypilot", help="Write a SkyPilot task YAML for a managed (spot) job.")
    add_train_arguments(sky)
    sky.add_argument("--spot", action="store_true", help="Use spot instances (managed job recovery).")
    sky.add_argument(
        "--gpus",
        "--accelerators",
        dest="accelerators",
        default="A10G:1",
        help="SkyPilot accelerators per node, NAME:COUNT, e.g. L4:1, A100:8.",
    )
    sky.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="Machines in the job (SkyPilot num_nodes); more than 1 trains one job across them.",
    )
    sky.add_argument("--bucket", help="Bucket URL mounted at /checkpoints, e.g. s3://my-bucket/thrifty.")
    sky.add_argument("--restarts", type=int, default=20, help="Reruns of `thrifty run` inside one job.")
    sky.add_argument("--task", default="thrifty-task.yaml", help="Where to write the task YAML.")
    sky.set_defaults(func=cmd_launch_skypilot)


def cmd_launch_skypilot(args: argparse.Namespace) -> int:
    from thrifty.supervise.skypilot import write_task

    config_from_args(args)  # a bad config fails here, not on the rented VM
    path = write_task(args, args.task)
    print(f"wrote {path}; launch it with: sky jobs launch {path}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from thrifty.supervise.restart import child_command, supervise
    from thrifty.train.preflight import preflight

    config = config_from_args(args)  # a bad config fails here, once, instead of in every restart
    preflight(config)
    return supervise(child_command(args, config), args.restarts, args.backoff)
