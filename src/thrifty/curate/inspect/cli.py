"""`thrifty data inspect`: arguments and the function they map to."""

import argparse
import json

from thrifty.curate.rows import FORMATS


def add_parser(actions) -> None:
    p = actions.add_parser(
        "inspect",
        help="Look at a data file before paying for it: lengths, truncation, duplicates, leakage, languages, cost.",
        description="Measure FILE as `thrifty train` would see it: rows per split, training tokens per "
        "example (the model's template and tokenizer; only the tokenizer loads), the share truncated at "
        "--max-seq-len, answer lengths, duplicates and train/eval leakage, languages, and one epoch's "
        "time and dollars from the planner. Writes report.md and histograms to a report folder.",
    )
    p.add_argument("data", help="Data file: alpaca, chat, sharegpt, prompt_completion or text records.")
    p.add_argument(
        "--model",
        required=True,
        help="Whose tokenizer and template count the tokens, and whose size prices the epoch: bundled "
        "name (e.g. smollm2-135m), model folder or cached hub id.",
    )
    p.add_argument(
        "--eval",
        metavar="FILE",
        help="Held-out file. Without it the report shows the seeded hold-out `thrifty train` would make.",
    )
    p.add_argument(
        "--gpu", help="Also price one epoch on this GPU (a `thrifty plan` catalog name, e.g. t4, a100-80gb)."
    )
    p.add_argument("--output", "-o", metavar="DIR", help="Report folder (default: ./<file stem>-inspect).")
    p.add_argument("--format", default="auto", choices=FORMATS, help="Input format (default: detect).")
    p.add_argument(
        "--max-seq-len",
        type=int,
        help="Tokens per example before truncation (default: training's data.max_seq_len, 512).",
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        help="Share held out when there is no --eval (default: training's data.val_fraction, 0.1).",
    )
    p.add_argument("--seed", type=int, help="Seed of that hold-out (default: training's train.seed, 42).")
    p.add_argument(
        "--method", default="lora", help="Fine-tuning method the epoch is priced for (default lora)."
    )
    p.add_argument("--system", help="System message added to examples without one, as data.system_prompt.")
    p.add_argument(
        "--near-dup",
        type=float,
        default=0.85,
        metavar="J",
        help="Jaccard threshold for near-duplicates and near-copy leakage, as in `thrifty data clean` "
        "(default 0.85).",
    )
    p.add_argument(
        "--trust-remote-code", action="store_true", help="Allow tokenizer code shipped with --model."
    )
    p.add_argument("--json", action="store_true", help="Print every figure as one JSON object.")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args: argparse.Namespace) -> int:
    """`thrifty data inspect FILE --model M ...`: options from the command line, then `inspect_file`."""
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.curate.arguments import options_from
    from thrifty.curate.inspect.report import print_table
    from thrifty.curate.inspect.run import InspectOptions, inspect_file

    figures = inspect_file(options_from(args, InspectOptions, system_prompt=args.system))
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        print_table(figures)
    return 0
