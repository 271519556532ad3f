"""The `thrifty compare` verb: its arguments and the function it maps to."""

import argparse
import json
from pathlib import Path

from thrifty.compare.fewshot import DEFAULT_K
from thrifty.config.args import add_train_arguments, config_from_args
from thrifty.eval.fewshot.pick import DEFAULT_PICK, PICKS
from thrifty.prune.criteria import criterion_names


def add_parser(verbs) -> None:
    comp = verbs.add_parser(
        "compare",
        help="Train several strategies on the same data and budget; report quality, time, memory, dollars.",
        description="Runs each strategy (a method, an objective, or stages such as sft+dpo) with the same data, split, seed and budget, one after "
        "another, and writes report.md/report.html with plots and a recommendation into --output.",
    )
    add_train_arguments(comp)
    comp.add_argument(
        "--strategies",
        help="Comma-separated strategies (default: scratch,full,lora,qlora): methods (lora, qlora, full...), "
        "objectives (dpo, orpo...: the config's method) or stages joined by + (sft+dpo: SFT on the chosen "
        "answers, then DPO from the merged result). With a pairs file every strategy is ranked on held-out "
        "preference accuracy against the base. few-shot trains nothing: the base model with --few-shot K "
        "training examples in each prompt, scored on the same held-out answer loss (e.g. few-shot,lora). "
        "prune+lora prunes the base model (--prune-*) and trains LoRA on it under the same budget.",
    )
    comp.add_argument(
        "--few-shot",
        type=int,
        metavar="K",
        help=f"Shots per prompt for the few-shot strategy (default {DEFAULT_K}).",
    )
    comp.add_argument(
        "--few-shot-pick",
        choices=tuple(PICKS),
        default=DEFAULT_PICK,
        help="How few-shot picks its shots: retrieved (the training questions most like each held-out "
        "one, TF-IDF cosine) or random (seeded).",
    )
    comp.add_argument(
        "--prune-layers", type=int, help="prune+lora: whole decoder blocks the prune stage drops."
    )
    comp.add_argument(
        "--prune-heads", type=float, help="prune+lora: share of attention heads removed per block, in [0, 1)."
    )
    comp.add_argument(
        "--prune-mlp",
        type=float,
        help="prune+lora: share of MLP channels removed per block, in [0, 1) (default 0.25 when no "
        "--prune-* share is given).",
    )
    comp.add_argument(
        "--prune-criterion",
        choices=criterion_names(),
        help="prune+lora: what ranks heads and channels (default taylor; see thrifty prune --help).",
    )
    comp.add_argument("--budget-steps", type=int, help="Optimizer steps per strategy.")
    comp.add_argument("--budget-minutes", type=float, help="Training minutes per strategy.")
    comp.add_argument("--budget-dollars", type=float, help="Dollars per strategy at --gpu's cheapest price.")
    comp.add_argument("--gpu", help="Price the runs on this GPU (e.g. rtx4090).")
    comp.add_argument(
        "--same-lr",
        action="store_true",
        help="Use the configured learning rate for full/freeze/scratch too (default: 1/10 of it).",
    )
    comp.add_argument("--json", action="store_true", help="Print the table and recommendation as JSON.")
    comp.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    from thrifty.compare.prune import prune_spec
    from thrifty.compare.runner import Budget, compare_and_report, few_shot_spec, parse_strategies
    from thrifty.train.preflight import preflight

    strategies = parse_strategies(args.strategies)
    budget = Budget(args.budget_steps, args.budget_minutes, args.budget_dollars, args.gpu)
    budget.check()
    few_shot = few_shot_spec(args.few_shot, args.few_shot_pick, strategies)
    prune = prune_spec(args.prune_layers, args.prune_heads, args.prune_mlp, args.prune_criterion, strategies)
    config = config_from_args(args)
    preflight(config)
    from thrifty.quiet import quiet_libraries

    quiet_libraries()
    out = Path(args.output or "runs/compare")
    report = compare_and_report(
        config,
        strategies,
        budget,
        out,
        args.same_lr,
        progress=not args.no_progress,
        few_shot=few_shot,
        prune=prune,
    )
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(report["recommendation"].replace("**", ""))
        print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return 0
