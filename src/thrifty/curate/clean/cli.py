"""`thrifty data clean`: arguments and the function they map to."""

import argparse
import json

from thrifty.curate.rows import FORMATS


def add_parser(actions) -> None:
    p = actions.add_parser(
        "clean",
        help="Remove duplicates, leakage, bad lengths, other languages and (optionally) PII; nothing is lost.",
        description="Write FILE's rows that pass every rule to OUTPUT (same records and columns; the "
        "output's suffix picks .jsonl/.json/.csv/.parquet). Rules run in this order, each over the rows "
        "the earlier ones kept: exact, near-dup, leakage (with --eval), length, repetition, language "
        "(with --lang). Every removed row goes to OUTPUT-stem.removed.jsonl with its row number, rule, "
        "reason and (duplicates) the row it repeats; the counts to OUTPUT-stem.clean.json. FILE is "
        "never changed.",
    )
    p.add_argument("data", help="Data file: alpaca, chat, sharegpt, prompt_completion or text records.")
    p.add_argument("--output", "-o", required=True, help="File of kept rows to write (not FILE itself).")
    p.add_argument("--format", default="auto", choices=FORMATS, help="Input format (default: detect).")
    p.add_argument(
        "--near-dup",
        type=float,
        default=0.85,
        metavar="J",
        help="Jaccard similarity (0-1) of character 5-gram shingles, estimated by MinHash LSH, at or "
        "above which a row is a near-duplicate of an earlier one and removed (default 0.85; also used "
        "for --eval leakage).",
    )
    p.add_argument(
        "--min-answer-tokens",
        type=int,
        default=3,
        metavar="N",
        help="Remove answers shorter than N (default 3; 0: off). Counted in tokens of --model's "
        "tokenizer when given, else in whitespace-separated words.",
    )
    p.add_argument(
        "--max-answer-tokens",
        type=int,
        metavar="N",
        help="Remove answers longer than N (same unit as --min-answer-tokens; default: no limit).",
    )
    p.add_argument(
        "--max-repeat",
        type=float,
        default=0.3,
        metavar="SHARE",
        help="Remove answers where more than SHARE (0-1) of the word 3-grams repeat an earlier one in "
        "the same answer (a loop), and answers that only repeat the prompt (default 0.3).",
    )
    p.add_argument(
        "--lang",
        metavar="CODES",
        help="Keep only rows whose prompt+answer py3langid reads as one of these ISO 639-1 codes, "
        "comma-separated (e.g. en or en,sv). Default: any language.",
    )
    p.add_argument(
        "--eval",
        metavar="FILE",
        help="Held-out file: remove training rows that are the same as, or near-duplicates of, one of "
        "its rows (leakage). The eval file itself is not changed.",
    )
    p.add_argument(
        "--pii",
        action="store_true",
        help="Scrub (not remove) e-mail addresses, phone numbers and valid IBANs in the kept rows: "
        "replaced by [EMAIL], [PHONE], [IBAN] and counted. removed.jsonl keeps the original records.",
    )
    p.add_argument(
        "--pii-regions",
        default="US,GB,DE,SE",
        metavar="CODES",
        help="Countries whose national phone formats --pii recognises (numbers written +CC... are "
        "found anyway), comma-separated (default US,GB,DE,SE).",
    )
    p.add_argument(
        "--skip",
        metavar="RULES",
        help="Turn off rules, comma-separated: exact, near-dup, leakage, length, repetition, language.",
    )
    p.add_argument(
        "--model",
        help="Count answer lengths with this model's tokenizer (bundled name, folder or cached hub id); "
        "only the tokenizer loads. Default: whitespace words.",
    )
    p.add_argument(
        "--trust-remote-code", action="store_true", help="Allow tokenizer code shipped with --model."
    )
    p.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    p.add_argument("--json", action="store_true", help="Print the summary (clean.json) as JSON.")
    p.set_defaults(func=cmd_clean)


def cmd_clean(args: argparse.Namespace) -> int:
    """`thrifty data clean FILE --output OUT ...`: options from the command line, then `clean`."""
    if args.model:
        from thrifty.quiet import quiet_libraries

        quiet_libraries()  # transformers only loads for --model's tokenizer
    from thrifty.curate.arguments import options_from
    from thrifty.curate.clean.pipeline import CleanOptions, clean

    summary = clean(options_from(args, CleanOptions, langs=args.lang, progress=not args.no_progress))
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0


def print_summary(summary: dict) -> None:
    """Rows removed per rule, then kept, as a rich table; PII counts under it."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("rule")
    table.add_column("rows", justify="right")
    for rule, n in summary["removed_by_rule"].items():
        table.add_row(f"removed: {rule}", str(n))
    table.add_row("kept", str(summary["kept"]), style="bold")
    console = Console()
    console.print(f"{summary['input']}: {summary['rows']} rows ({summary['format']})")
    console.print(table)
    if summary["pii"] is not None:
        console.print("PII scrubbed: " + ", ".join(f"{k} {v}" for k, v in summary["pii"].items()))
    console.print(f"{summary['output']}; removed rows: {summary['removed_file']}")
