"""The `thrifty` command: it only gathers the verbs. Each verb's arguments and function live in its
capability's own cli.py; heavy libraries load only inside the verbs."""

import argparse
import sys
from collections.abc import Callable

from thrifty import demo
from thrifty.autotune import cli as autotune_cli
from thrifty.compare import cli as compare_cli
from thrifty.config import cli as config_cli
from thrifty.curate import cli as curate_cli
from thrifty.errors import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, UserError, report_internal_error
from thrifty.eval import cli as eval_cli
from thrifty.export import cli as export_cli
from thrifty.inference import cli as inference_cli
from thrifty.models import cli as models_cli
from thrifty.plan import cli as plan_cli
from thrifty.prune import cli as prune_cli
from thrifty.supervise import cli as supervise_cli
from thrifty.sweep import cli as sweep_cli
from thrifty.train import cli as train_cli
from thrifty.ui import cli as ui_cli

# In the order `thrifty --help` lists them.
VERBS = (
    train_cli,
    supervise_cli,  # run, launch skypilot
    inference_cli,  # generate
    eval_cli,
    curate_cli,  # data pairs
    export_cli,
    prune_cli,  # drop decoder blocks
    plan_cli,
    compare_cli,
    sweep_cli,
    autotune_cli,
    ui_cli,  # web page over runs, sweeps, comparisons
    models_cli,
    config_cli,  # config schema, methods
    demo,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thrifty", description="Fine-tune open language models cheaply.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for module in VERBS:
        module.add_parser(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come after flags (`--max-steps 3 train.seed=1`), which argparse leaves unparsed.
    args, extra = parser.parse_known_args(argv)
    if extra and (
        not getattr(args, "takes_overrides", False) or any("=" not in x or x.startswith("-") for x in extra)
    ):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.args += extra
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # not the user's input: keep the traceback and say where to report it
        report_internal_error(exc)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
