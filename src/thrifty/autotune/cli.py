"""`thrifty autotune suggest --data FILE --top K`: configs for a new domain from all past sweeps."""

import argparse
import json
from pathlib import Path


def add_parser(verbs) -> None:
    autotune = verbs.add_parser("autotune", help="Suggest configs for new data from past sweeps' results.")
    add_autotune_arguments(autotune)
    autotune.set_defaults(func=run)


def add_autotune_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="autotune_verb", required=True, metavar="ACTION")
    sug = actions.add_parser(
        "suggest", help="Print the top-k configs for new data, learned from results.jsonl."
    )
    sug.add_argument(
        "--data", required=True, help="The new domain's training data (any thrifty data format)."
    )
    sug.add_argument(
        "--model", default="smollm2-135m", help="Model to fine-tune (its tokenizer measures the data)."
    )
    sug.add_argument("--max-seq-len", type=int, default=512, help="Tokens per example, as in the run config.")
    sug.add_argument("--top", type=int, default=5, help="How many configs to print.")
    sug.add_argument(
        "--results",
        action="append",
        help="A results.jsonl to learn from (repeatable; default: runs/**/results.jsonl).",
    )
    sug.add_argument("--json", action="store_true", help="Print JSON instead of a table.")


def run(args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.autotune.features import data_features
    from thrifty.autotune.suggest import default_results, suggest
    from thrifty.config.load import validate
    from thrifty.errors import UserError

    if args.top <= 0:
        raise UserError(f"--top must be positive (got {args.top})")
    config = validate(
        {"model": {"name": args.model}, "data": {"path": args.data, "max_seq_len": args.max_seq_len}}
    )
    features = data_features(config)
    paths = [Path(p) for p in args.results] if args.results else default_results()
    picks = suggest(paths, features, args.top)
    rows = [{**config, "predicted_gap": gap} for config, gap in picks]
    if args.json:
        print(json.dumps({"data": features, "suggestions": rows}, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"top {len(rows)} configs for {args.data} (predicted loss vs the domain's best)")
    for column in rows[0]:
        table.add_column(column, justify="right")
    for r in rows:
        table.add_row(*[_cell(k, v) for k, v in r.items()])
    Console(soft_wrap=False).print(table)
    return 0


def _cell(key: str, value) -> str:
    if key == "predicted_gap":
        return f"{value:+.2%}"
    return f"{value:.3g}" if isinstance(value, float) else str(value)
