"""`thrifty data select`: arguments and the function they map to."""

import argparse
import json

from thrifty.curate.rows import INSTRUCTION_FORMATS
from thrifty.inference.device import add_device_argument

FORMATS = INSTRUCTION_FORMATS  # plain text has no answers to pair or score
STRATEGIES = ("loss+diversity", "loss", "uncertainty", "diversity", "random")  # see strategies/


def add_parser(actions) -> None:
    select = actions.add_parser(
        "select",
        help="Pick the rows worth training on (or labelling): loss, uncertainty, diversity.",
        description="Score a pool with a model and keep --k rows or a --fraction of them. Rows with "
        "answers are scored by answer-token loss; rows without (a pool to label: alpaca without output, "
        "prompt without completion, chat ending on the user) by the entropy of the model's own answer. "
        "Diversity is k-center greedy on the model's mean hidden states. Unlabelled picks are written with "
        "an empty answer: fill them in and `thrifty train` on the file. Scores are cached.",
    )
    select.add_argument("pool", help="Data file to pick from (any format train reads; answers optional).")
    select.add_argument(
        "--output", "-o", required=True, help="File for the picked rows (.jsonl/.json/.csv/.parquet)."
    )
    size = select.add_mutually_exclusive_group(required=True)
    size.add_argument("--k", type=int, help="How many rows to pick.")
    size.add_argument("--fraction", type=float, help="Share of the pool to pick, in (0, 1].")
    select.add_argument(
        "--strategy",
        default="loss+diversity",
        choices=STRATEGIES,
        help="loss: highest answer loss; uncertainty: highest entropy of the model's own answer (no answers "
        "needed); diversity: k-center greedy on hidden states; loss+diversity: k-center weighted by loss rank "
        "(entropy without answers); random: seeded baseline (default: loss+diversity).",
    )
    select.add_argument(
        "--model",
        default="smollm2-135m",
        help="Scoring model: bundled name, model folder, hub id or a `thrifty train` run folder (its tuned "
        "model and system prompt) (default: smollm2-135m).",
    )
    select.add_argument("--format", default="auto", choices=FORMATS, help="Input format (default: detect).")
    select.add_argument("--seed", type=int, default=0, help="Seed of --strategy random (default: 0).")
    select.add_argument("--batch-size", type=int, default=8, help="Rows per scoring batch (default: 8).")
    select.add_argument(
        "--max-seq-len",
        type=int,
        default=512,
        help="Tokens per scored row, cut as training cuts (default: 512).",
    )
    select.add_argument(
        "--max-new-tokens",
        type=int,
        default=32,
        help="Tokens of the model's own answer whose entropy is measured (uncertainty; default: 32).",
    )
    select.add_argument("--system", help="System message for scoring (default: a run folder's own).")
    select.add_argument("--trust-remote-code", action="store_true", help="Allow code shipped with the model.")
    add_device_argument(select)
    select.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    select.add_argument("--json", action="store_true", help="Print the summary as JSON.")
    select.set_defaults(func=cmd_select)


def cmd_select(args: argparse.Namespace) -> int:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    from thrifty.curate.arguments import options_from
    from thrifty.curate.select.run import SelectOptions, select

    result = select(
        options_from(args, SelectOptions, system_prompt=args.system, progress=not args.no_progress)
    )
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
        return 0
    scored = ""
    if result.mean_score_selected is not None:
        scored = f"; mean score {result.mean_score_selected:.3f} picked vs {result.mean_score_pool:.3f} pool"
    print(f"{result.output}: {result.selected} of {result.pool_rows} rows ({result.strategy}){scored}")
    if result.unlabelled_selected:
        print(
            f"{result.unlabelled_selected} picked rows have no answer yet: fill them in, then "
            f"`thrifty train --data {result.output}`"
        )
    print(f"scores: {result.scores_file}")
    return 0
