"""`thrifty prune`: arguments and the function they map to."""

import argparse
import json

from thrifty.curate.rows import FORMATS
from thrifty.prune.criteria import criterion_names
from thrifty.prune.run import DEFAULT_CALIBRATION
from thrifty.prune.width import HEAD_GROUPS


def add_parser(verbs) -> None:
    prune = verbs.add_parser(
        "prune",
        help="A smaller model: drop whole decoder blocks, attention heads and MLP channels.",
        description="Drop --layers N whole decoder blocks (the ones whose output is closest to their input "
        "on calibration data, ShortGPT's Block Influence), then remove --heads and --mlp shares of every "
        "block's attention heads and MLP channels, the lowest-scoring by --criterion, and write an ordinary "
        "Hugging Face folder that train, plan, eval and export take. Recover quality with "
        "`thrifty train --model DIR`.",
    )
    prune.add_argument(
        "model", help="Bundled name, model folder, cached hub id, or a full run's RUN/model folder."
    )
    prune.add_argument("--output", "-o", required=True, help="New (or empty) folder for the pruned model.")
    prune.add_argument("--layers", type=int, help="Whole decoder blocks to drop (at least one must stay).")
    prune.add_argument(
        "--heads",
        type=float,
        help="Share of attention heads to remove from every block, in [0, 1); rounded to whole heads per "
        "KV group (SmolLM2-135M: steps of 1/3).",
    )
    prune.add_argument(
        "--mlp",
        type=float,
        help="Share of MLP intermediate channels to remove from every block, in [0, 1).",
    )
    prune.add_argument(
        "--criterion",
        default="taylor",
        choices=criterion_names(),
        help="What ranks heads and channels: taylor (|weight x gradient|, LLM-Pruner), wanda (|weight| x "
        "input norm) or magnitude (weights only, no data). Default: taylor.",
    )
    prune.add_argument(
        "--head-groups",
        default="within",
        choices=HEAD_GROUPS,
        help="Grouped-query attention: remove query heads evenly inside every KV group (within, keeps the "
        "KV cache) or whole KV groups with their query heads (whole, shrinks it). Default: within.",
    )
    prune.add_argument(
        "--mlp-multiple",
        type=int,
        default=32,
        help="Keep the MLP width a multiple of this (GGUF quantizes in 32-value blocks). Default: 32.",
    )
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
        f"{result.output}: {result.params_before:,} -> {result.params_after:,} parameters, {result.seconds:.1f} s"
    )
    if result.dropped:
        print(f"  blocks {result.layers_before} -> {result.layers_after} (dropped {result.dropped})")
    if result.heads_after != result.heads_before:
        print(
            f"  heads {result.heads_before} -> {result.heads_after} per block, KV heads "
            f"{result.kv_heads_before} -> {result.kv_heads_after} ({result.criterion})"
        )
    if result.intermediate_after != result.intermediate_before:
        print(
            f"  MLP channels {result.intermediate_before} -> {result.intermediate_after} per block "
            f"({result.criterion})"
        )
    return 0
