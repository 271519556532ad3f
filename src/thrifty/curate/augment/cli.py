"""`thrifty data augment`: arguments and the function they map to."""

import argparse

from thrifty.data.formats import FORMATS as KNOWN
from thrifty.errors import EXIT_PREEMPTED

FORMATS = ("auto", *(name for name in KNOWN if name != "text"))  # plain text has no prompt to rewrite


def add_parser(actions) -> None:
    from thrifty.curate.augment.options import DEFAULT_MODEL, DEFAULT_PIVOT, DEFAULT_SYNONYM_RATE
    from thrifty.curate.augment.prompts import PIVOTS
    from thrifty.curate.augment.registry import AUGMENTERS
    from thrifty.inference.device import add_device_argument

    augment = actions.add_parser(
        "augment",
        help="More training rows from fewer: model paraphrases, back-translation, synonyms.",
        description="Rewrite each row's prompt (alpaca's instruction, prompt_completion's prompt, the last "
        "user turn of a conversation) with a model or a thesaurus; answers are kept as they are (they are "
        "the labels). Candidates pass a quality filter (not a copy, not drifted, no leaked answer, no "
        "instruction echo) and are added after the original rows, in the input's format, each marked "
        "augmented_from (its source row) so training's hold-out never evaluates on them. Writes OUTPUT "
        "and OUTPUT-stem.augment.json (counts per kind and rejection reason), and the rejected candidates "
        "with their reasons in OUTPUT-stem.rejected.jsonl.",
        epilog="kinds: " + "; ".join(f"{a.name}: {a.help.rstrip('.')}" for a in AUGMENTERS.values()),
    )
    augment.add_argument(
        "data", help="Instruction file: alpaca, chat, sharegpt or prompt_completion records."
    )
    augment.add_argument(
        "--output", "-o", required=True, help="File to write (.jsonl, .json, .csv, .parquet)."
    )
    augment.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"Model that rewrites, unless --generator (default: {DEFAULT_MODEL}).",
    )
    augment.add_argument(
        "--generator",
        help="Model that rewrites: bundled name, model folder, hub id, `thrifty train` run folder or adapter folder.",
    )
    augment.add_argument("--format", default="auto", choices=FORMATS, help="Input format (default: detect).")
    augment.add_argument("--paraphrases", type=int, metavar="N", help="Model rewrites per row (sampled).")
    augment.add_argument(
        "--back-translate", action="store_true", help="Translate each prompt to --pivot and back (greedy)."
    )
    augment.add_argument(
        "--pivot", choices=PIVOTS, help=f"Pivot language for --back-translate (default: {DEFAULT_PIVOT})."
    )
    augment.add_argument("--synonyms", action="store_true", help="Swap a few words for thesaurus synonyms.")
    augment.add_argument(
        "--synonym-rate",
        type=float,
        metavar="R",
        help=f"Share of content words swapped, at least one (default: {DEFAULT_SYNONYM_RATE}).",
    )
    augment.add_argument(
        "--seed", type=int, default=0, help="Seed for sampling and synonym choice (default: 0)."
    )
    augment.add_argument("--temperature", type=float, default=0.8, help="Paraphrase sampling temperature.")
    augment.add_argument("--batch-size", type=int, default=8, help="Prompts per generation batch.")
    augment.add_argument(
        "--max-new-tokens", type=int, default=48, help="Most tokens per rewrite (longer output is cut)."
    )
    augment.add_argument(
        "--limit", type=int, help="Augment the first N rows only (all rows are still written)."
    )
    augment.add_argument(
        "--min-similarity", type=float, default=0.3, help="Reject rewrites less similar (0-1, difflib ratio)."
    )
    augment.add_argument(
        "--max-similarity", type=float, default=0.95, help="Reject rewrites more similar (near copies)."
    )
    augment.add_argument(
        "--trust-remote-code", action="store_true", help="Allow code shipped with the model."
    )
    add_device_argument(augment)
    augment.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    augment.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    augment.set_defaults(func=cmd_augment)


def cmd_augment(args: argparse.Namespace) -> int:
    """`thrifty data augment FILE ...`: options from the command line, then `augment`."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.curate.arguments import options_from
    from thrifty.curate.augment.options import AugmentOptions
    from thrifty.curate.augment.run import augment, dumps, summary_line

    result = augment(options_from(args, AugmentOptions, progress=not args.no_progress))
    print(dumps(result) if args.json else summary_line(result.as_dict()))
    return 0 if result.complete else EXIT_PREEMPTED
