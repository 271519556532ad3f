"""The `thrifty data` verb: it gathers the actions (inspect, clean, select, augment in their own
subpackages' cli.py; `pairs` here) and maps `pairs` to its function."""

import argparse
import json
import sys

from thrifty.curate.augment import cli as augment_cli
from thrifty.curate.clean import cli as clean_cli
from thrifty.curate.inspect import cli as inspect_cli
from thrifty.curate.rows import INSTRUCTION_FORMATS
from thrifty.curate.select import cli as select_cli
from thrifty.errors import EXIT_PREEMPTED
from thrifty.inference.device import add_device_argument

FORMATS = INSTRUCTION_FORMATS  # plain text has no answers to pair or score


def add_parser(verbs) -> None:
    data = verbs.add_parser(
        "data",
        help="Look at, clean, select and augment training data; build DPO pairs from an SFT file.",
    )
    actions = data.add_subparsers(dest="data_verb", required=True, metavar="ACTION")
    for module in (inspect_cli, clean_cli, select_cli, augment_cli):
        module.add_parser(actions)
    add_pairs_parser(actions)


def add_pairs_parser(actions) -> None:
    pairs = actions.add_parser(
        "pairs",
        help="DPO pairs from an SFT file: chosen = the reference, rejected = the model's own answer.",
        description="Answer every prompt of an instruction file with a model; write {prompt, chosen, "
        "rejected} rows (chosen = the file's answer, rejected = the model's). Resumable: rerun the same "
        "command after an interruption to continue. Rows are written to OUTPUT.partial (progress in "
        "OUTPUT.state.json) and renamed to OUTPUT when all are done.",
    )
    pairs.add_argument("data", help="Instruction file: alpaca, chat, sharegpt or prompt_completion records.")
    pairs.add_argument("--output", "-o", required=True, help="JSONL file of pairs to write.")
    pairs.add_argument(
        "--model",
        default="smollm2-135m",
        help="Who answers: bundled name, model folder, hub id, a `thrifty train` run folder or an adapter "
        "folder (default: smollm2-135m).",
    )
    pairs.add_argument("--format", default="auto", choices=FORMATS, help="Input format (default: detect).")
    pairs.add_argument("--sample", action="store_true", help="Sample answers instead of greedy decoding.")
    pairs.add_argument("--temperature", type=float, default=0.7, help="Sampling temperature (with --sample).")
    pairs.add_argument(
        "--seed", type=int, default=0, help="Sampling seed (with --sample; resumes repeat it)."
    )
    pairs.add_argument("--max-new-tokens", type=int, default=128, help="Most tokens per generated answer.")
    pairs.add_argument(
        "--batch-size", type=int, default=8, help="Prompts per generation batch (left-padded)."
    )
    pairs.add_argument("--limit", type=int, help="Only the first N examples.")
    pairs.add_argument("--system", help="System message for generation (default: a run folder's own).")
    pairs.add_argument(
        "--overwrite", action="store_true", help="Start again over an existing output or other settings."
    )
    pairs.add_argument("--trust-remote-code", action="store_true", help="Allow code shipped with the model.")
    add_device_argument(pairs)
    pairs.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    pairs.add_argument(
        "--json", action="store_true", help="Print a JSON summary (rows written, skipped, seconds)."
    )
    pairs.set_defaults(func=cmd_pairs)


def cmd_pairs(args: argparse.Namespace) -> int:
    """`thrifty data pairs FILE ...`: options from the command line, then `build_pairs`."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.curate.arguments import options_from
    from thrifty.curate.pairs import PairsOptions, build_pairs

    result = build_pairs(
        options_from(args, PairsOptions, system_prompt=args.system, progress=not args.no_progress)
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif result.complete:
        print(
            f"{result.output}: {result.rows_written} pairs written, {result.skipped_equal} skipped (the "
            f"model's answer equalled the reference), {result.seconds:.1f} s"
        )
    if not result.complete:
        print(
            f"stopped after {result.rows_written + result.skipped_equal} of {result.examples} examples; "
            "rerun the same command to continue",
            file=sys.stderr,
        )
        return EXIT_PREEMPTED
    return 0
