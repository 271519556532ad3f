"""`thrifty prune`: arguments and the function they map to."""

import argparse
import json

from thrifty.curate.rows import FORMATS
from thrifty.prune.run import DEFAULT_CALIBRATION


def add_parser(verbs) -> None:
    prune = verbs.add_parser(
        "prune",
        help="A smaller model: drop the least important whole decoder blocks (measured on calibration data).",
        description="Drop --layers N whole decoder blocks, the ones whose output is closest to their input "
        "on calibration data (ShortGPT's Block Influence), and write an ordinary Hugging Face folder that "
        "train, plan, eval and export take. Recover quality with `thrifty train --model DIR`.",
    )
    prune.add_argument(
        "model", help="Bundled name, model folder, cached hub id, or a full run's RUN/model folder."
    )
    prune.add_argument("--output", "-o", required=True, help="New (or empty) folder for the pruned model.")
    prune.add_argument("--layers", type=int, help="Whole decoder blocks to drop (at least one must stay).")
    prune.add_argument(
        "--calibration",
        default=DEFAULT_CALIBRATION,
        help="Data whose activations rank the blocks: any file train reads (default: the bundled FAQ).",
    )
    prune.add_argument(
        "--calibration-rows",
        type=int,
        default=128,
        help="First N calibration examples to use (default: 128).",
    )
    prune.add_argument(
        "--max-seq-len", type=int, default=256, help="Tokens per calibration example (default: 256)."
    )
    prune.add_argument(
        "--format", default="auto", choices=FORMATS, help="Calibration format (default: detect)."
    )
    prune.add_argument(
        "--batch-size", type=int, default=8, help="Calibration rows per forward pass (default: 8)."
    )
    prune.add_argument("--overwrite", action="store_true", help="Replace an earlier `thrifty prune` output.")
    prune.add_argument("--trust-remote-code", action="store_true", help="Allow code shipped with the model.")
    prune.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    prune.add_argument("--json", action="store_true", help="Print the report as JSON.")
    prune.set_defaults(func=cmd_prune)


def cmd_prune(args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.curate.arguments import options_from
    from thrifty.prune.run import PruneOptions, prune

    result = prune(options_from(args, PruneOptions, progress=not args.no_progress))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    print(
        f"{result.output}: {result.layers_before} -> {result.layers_after} blocks (dropped {result.dropped}), "
        f"{result.params_before:,} -> {result.params_after:,} parameters, {result.seconds:.1f} s"
    )
    return 0
