"""The `thrifty eval` verb: its arguments and the function it maps to."""

import argparse
import json

from thrifty.inference.device import add_device_argument
from thrifty.quiet import quiet_libraries


def split_list(text: str | None) -> list[str] | None:
    items = [x.strip() for x in text.split(",") if x.strip()] if text else []
    return items or None


def add_parser(verbs) -> None:
    add_eval_parser(verbs).set_defaults(func=run_eval)


def add_eval_parser(verbs) -> argparse.ArgumentParser:
    ev = verbs.add_parser(
        "eval",
        help="Perplexity and task metrics of a finished run, base vs fine-tuned; writes eval.json and eval.md.",
        description="Evaluate RUN's fine-tuned model on held-out data: perplexity, metrics on greedy answers, "
        "tokens/s and peak memory; results go to RUN/eval.json and RUN/eval.md.",
    )
    ev.add_argument("run", help="Run folder written by `thrifty train` (holds summary.json).")
    ev.add_argument(
        "--data", help="Eval file in any training format (default: the run's own held-out split)."
    )
    ev.add_argument(
        "--metrics",
        help="Comma-separated: exact, contains, f1, rougeL, json, accuracy (default: exact,contains,f1,rougeL).",
    )
    ev.add_argument("--labels", help="Label set for classification accuracy, comma-separated (e.g. yes,no).")
    ev.add_argument(
        "--compare-base", action="store_true", help="Also evaluate the base model on the same prompts."
    )
    ev.add_argument(
        "--few-shot",
        type=int,
        metavar="K",
        help="Also evaluate the base model with K of the run's training examples as earlier turns before "
        "each question (the in-context baseline fine-tuning must beat): loss on the same answer tokens, "
        "and the task metrics on its answers. Shots are dropped to fit data.max_seq_len and counted. "
        "Needs a run folder, as every eval does.",
    )
    ev.add_argument(
        "--few-shot-pick",
        choices=("random", "retrieved"),
        default="retrieved",
        help="How shots are chosen: retrieved (default; the training questions most like the query, by "
        "TF-IDF cosine) or random (seeded by the run's seed).",
    )
    ev.add_argument("--max-examples", type=int, help="Evaluate only the first N examples.")
    ev.add_argument("--batch-size", type=int, default=8, help="Prompts per generation batch (left-padded).")
    ev.add_argument("--max-new-tokens", type=int, default=128, help="Most tokens per generated answer.")
    ev.add_argument("--examples", type=int, default=3, help="Example answers kept in the report.")
    ev.add_argument(
        "--lm-eval", metavar="TASKS", help="Also run lm-evaluation-harness tasks (comma-separated)."
    )
    ev.add_argument(
        "--lm-eval-include", metavar="DIR", help="Folder of extra lm-eval task YAML files (local tasks)."
    )
    ev.add_argument("--lm-eval-limit", type=int, help="Examples per lm-eval task (quick checks).")
    ev.add_argument("--force", action="store_true", help="Replace an existing RUN/eval.json.")
    ev.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="Allow the Python code shipped with the run's model (a run folder's own config cannot).",
    )
    ev.add_argument(
        "--base",
        metavar="MODEL",
        help="Your copy of the run's base model (folder, hub id or bundled name); default: where the run "
        "recorded it.",
    )
    add_device_argument(ev)
    ev.add_argument("--json", action="store_true", help="Print eval.json instead of a table.")
    ev.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    return ev


def run_eval(args: argparse.Namespace) -> int:
    """`thrifty eval RUN ...`: options from the command line, then `evaluate_run`."""
    from thrifty.eval.metrics import parse_metrics

    labels = split_list(args.labels)
    options_kwargs = {
        "data": args.data,
        # None keeps "the defaults" apart from metrics the user named (text data refuses those).
        "metrics": parse_metrics(args.metrics, labels) if args.metrics or labels else None,
        "labels": labels,
        "compare_base": args.compare_base,
        "max_examples": args.max_examples,
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "shown_examples": args.examples,
        "lm_eval_tasks": split_list(args.lm_eval),
        "lm_eval_include": args.lm_eval_include,
        "lm_eval_limit": args.lm_eval_limit,
        "force": args.force,
        "trust_remote_code": args.trust_remote_code,
        "base": args.base,
        "device": args.device,
        "progress": not args.no_progress,
        "few_shot": args.few_shot,
        "few_shot_pick": args.few_shot_pick,
    }
    quiet_libraries()
    from thrifty.eval.report import print_report
    from thrifty.eval.runner import EvalOptions, evaluate_run

    report = evaluate_run(args.run, EvalOptions(**options_kwargs))
    print(json.dumps(report, indent=2, default=str)) if args.json else print_report(report)
    return 0
