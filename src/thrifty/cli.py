"""The `thrifty` command: each verb maps to one function. Heavy libraries load only inside the verbs."""

import argparse
import json
import sys
from collections.abc import Callable

from thrifty.config.args import TRAIN_FLAGS, config_from_args
from thrifty.errors import (
    EXIT_INTERNAL_ERROR,
    EXIT_PREEMPTED,
    EXIT_USER_ERROR,
    Preempted,
    UserError,
    report_internal_error,
)


def cmd_train(args: argparse.Namespace) -> int:
    from thrifty.report import print_run_summary

    config = config_from_args(args)
    _preflight(config)
    _quiet()
    from thrifty.train.run import train

    try:
        result = train(
            config,
            progress=not args.no_progress,
            plan_only=args.plan_only,
            resume=args.resume,
            resume_force=args.resume_force,
        )
    except Preempted as exc:
        print(f"preempted: {exc}", file=sys.stderr)
        return EXIT_PREEMPTED
    if args.plan_only:
        from thrifty.plan.report import print_plan

        print(json.dumps(result.summary["plan"], indent=2, default=str)) if args.json else print_plan(
            result.summary["plan"]
        )
        return 0
    if args.json:
        print(json.dumps(result.summary, indent=2, default=str))
    else:
        print_run_summary(result.summary, result.run_dir)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from thrifty.supervise.restart import child_command, supervise

    config = config_from_args(args)  # a bad config fails here, once, instead of in every restart
    _preflight(config)
    return supervise(child_command(args, config), args.restarts, args.backoff)


def cmd_launch_skypilot(args: argparse.Namespace) -> int:
    from thrifty.supervise.skypilot import write_task

    config_from_args(args)
    path = write_task(args, args.task)
    print(f"wrote {path}; launch it with: sky jobs launch {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    _quiet()
    from thrifty.inference.generate import (
        GenerationOptions,
        adapter_names,
        generate_as,
        load_for_generation,
        select_adapter,
    )

    folders = args.adapter or []
    uses = _split_list(args.use) or adapter_names(folders)[:1] or [None]
    if args.use and not folders and args.use != "base":
        raise UserError("--use picks one of the --adapter folders; pass --adapter DIR (repeatable) first")
    model, tokenizer = load_for_generation(args.model, folders, args.trust_remote_code)
    options = GenerationOptions(
        max_new_tokens=args.max_new_tokens,
        do_sample=args.sample,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        system_prompt=args.system,
    )
    for use in uses:
        name = select_adapter(model, folders, use) if use else None
        if args.seed is not None:
            import torch

            torch.manual_seed(args.seed)
        answers = generate_as(model, tokenizer, args.prompt, options, name)
        for prompt, answer in zip(args.prompt, answers, strict=True):
            if args.json:
                print(json.dumps({"prompt": prompt, "answer": answer, **({"adapter": name} if name else {})}))
            else:
                print(f"[{name}] {answer}" if len(uses) > 1 else answer)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from thrifty.eval.cli import run_eval

    return run_eval(args)


def cmd_export(args: argparse.Namespace) -> int:
    from thrifty.export.cli import run_export

    return run_export(args)


def _split_list(text: str | None) -> list[str] | None:
    items = [x.strip() for x in text.split(",") if x.strip()] if text else []
    return items or None


def cmd_plan(args: argparse.Namespace) -> int:
    from thrifty.plan.cli import run_plan  # it quiets the libraries once the model name checks out

    return run_plan(args)


def cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from thrifty.compare.runner import Budget, compare, parse_strategies

    strategies = parse_strategies(args.strategies)
    for name in ("budget_steps", "budget_minutes", "budget_dollars"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive (got {getattr(args, name)})")
    config = config_from_args(args)
    _preflight(config)
    _quiet()
    from thrifty.compare.report import write_report

    out = Path(args.output or "runs/compare")
    budget = Budget(args.budget_steps, args.budget_minutes, args.budget_dollars, args.gpu)
    results = compare(config, strategies, budget, out, args.same_lr, progress=not args.no_progress)
    report = write_report(results, out, args.gpu)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(report["recommendation"].replace("**", ""))
        print(f"report: {out / 'report.md'} and {out / 'report.html'}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from thrifty.sweep.cli import run

    return run(args)


def cmd_autotune(args: argparse.Namespace) -> int:
    from thrifty.autotune.cli import run

    return run(args)


def cmd_models_pull(args: argparse.Namespace) -> int:
    _quiet()
    from thrifty.models.registry import pull_model

    print(pull_model(args.name, progress=True))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from thrifty.models.registry import list_cached
    from thrifty.report import print_models

    rows = list_cached()
    print(json.dumps(rows, indent=2)) if args.json else print_models(rows)
    return 0


def cmd_config_schema(args: argparse.Namespace) -> int:
    from thrifty.config.docs import field_rows
    from thrifty.config.schema import RunConfig
    from thrifty.report import print_schema

    if args.json:
        print(json.dumps(RunConfig.model_json_schema(), indent=2))
    else:
        print_schema(field_rows())
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from thrifty.methods import get_method, method_names

    for name in method_names():
        print(f"{name:10} {get_method(name).description}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _quiet()
    from thrifty.demo import run_demo

    run_demo(output=args.output, max_steps=args.max_steps)
    return 0


def _preflight(config) -> None:
    from thrifty.train.preflight import preflight

    preflight(config)


def _quiet() -> None:
    from thrifty.quiet import quiet_libraries

    quiet_libraries()


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "args",
        nargs="*",
        metavar="[CONFIG.yaml] [key=value ...]",
        help="Optional YAML run config, then overrides such as train.learning_rate=1e-4.",
    )
    for flag, (field, text) in TRAIN_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, help=f"{text} (= {field})")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thrifty", description="Fine-tune open language models cheaply.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    train = verbs.add_parser(
        "train",
        help="Fine-tune a model.",
        description="Fine-tune a model. Every config "
        "field can be overridden as section.field=value; `thrifty config schema` lists them.",
    )
    add_train_arguments(train)
    train.add_argument("--overwrite", action="store_true", help="Replace a finished run in --output.")
    train.add_argument("--plan-only", action="store_true", help="Print the plan for this run and exit.")
    train.add_argument("--json", action="store_true", help="Print summary.json instead of a table.")
    train.add_argument(
        "--resume",
        metavar="auto|PATH",
        help="Continue from a checkpoint: auto = the newest one that verifies (local, else checkpoint.remote; "
        "none: start fresh), or a RUN/checkpoints/step-N folder.",
    )
    train.add_argument(
        "--resume-force", action="store_true", help="Resume even if result-changing config fields differ."
    )
    train.set_defaults(func=cmd_train)

    run = verbs.add_parser(
        "run",
        help="Train under a supervisor that resumes after preemptions and crashes.",
        description=f"Run `thrifty train ... --resume auto` until it finishes: after exit {EXIT_PREEMPTED} "
        f"(preempted) or a crash it waits and resumes; exit {EXIT_USER_ERROR} (bad input) stops at once.",
    )
    add_train_arguments(run)
    run.add_argument("--restarts", type=int, default=10, help="Most reruns after the first attempt.")
    run.add_argument(
        "--backoff", type=float, default=5.0, help="Seconds before the first rerun; doubles each time."
    )
    run.set_defaults(func=cmd_run, resume=None)

    launch = verbs.add_parser("launch", help="Write a cloud job that runs thrifty (SkyPilot).")
    launch_verbs = launch.add_subparsers(dest="launch_verb", required=True, metavar="TARGET")
    sky = launch_verbs.add_parser("skypilot", help="Write a SkyPilot task YAML for a managed (spot) job.")
    add_train_arguments(sky)
    sky.add_argument("--spot", action="store_true", help="Use spot instances (managed job recovery).")
    sky.add_argument("--accelerators", default="A10G:1", help="SkyPilot accelerators, e.g. L4:1, A100:1.")
    sky.add_argument("--bucket", help="Bucket URL mounted at /checkpoints, e.g. s3://my-bucket/thrifty.")
    sky.add_argument("--restarts", type=int, default=20, help="Reruns of `thrifty run` inside one job.")
    sky.add_argument("--task", default="thrifty-task.yaml", help="Where to write the task YAML.")
    sky.set_defaults(func=cmd_launch_skypilot)

    gen = verbs.add_parser("generate", help="Answer prompts with a model and optional adapter.")
    gen.add_argument("prompt", nargs="+", help="One or more user prompts.")
    gen.add_argument("--model", default="smollm2-135m", help="Base model: bundled name, folder or hub id.")
    gen.add_argument(
        "--adapter",
        action="append",
        help="PEFT adapter folder, e.g. runs/first/adapter; repeat to load several onto one base.",
    )
    gen.add_argument(
        "--use",
        help="Which loaded adapter answers: its run name, its folder, or base (comma-separated: each in turn). "
        "Default: the first --adapter.",
    )
    gen.add_argument("--max-new-tokens", type=int, default=128, help="Most tokens to generate per answer.")
    gen.add_argument("--sample", action="store_true", help="Sample instead of greedy decoding.")
    gen.add_argument("--temperature", type=float, default=0.7, help="Sampling temperature (with --sample).")
    gen.add_argument("--top-p", type=float, default=0.9, help="Nucleus sampling mass (with --sample).")
    gen.add_argument("--top-k", type=int, default=50, help="Top-k sampling cut-off (with --sample).")
    gen.add_argument("--system", help="System message (chat-template models).")
    gen.add_argument("--seed", type=int, help="Seed for sampling.")
    gen.add_argument("--trust-remote-code", action="store_true", help="Allow code shipped with the model.")
    gen.add_argument("--json", action="store_true", help="One JSON line per prompt.")
    gen.set_defaults(func=cmd_generate)

    from thrifty.eval.cli import add_eval_parser
    from thrifty.export.cli import add_export_parser

    add_eval_parser(verbs).set_defaults(func=cmd_eval)
    add_export_parser(verbs).set_defaults(func=cmd_export)
    plan = verbs.add_parser(
        "plan",
        help="Parameters, peak memory, time and dollars before training.",
        description="Predict trainable parameters, peak memory, FLOPs, time and cost for "
        "each GPU and provider; --gpu finds settings that fit.",
    )
    from thrifty.plan.cli import add_plan_arguments

    add_plan_arguments(plan)
    plan.set_defaults(func=cmd_plan)

    comp = verbs.add_parser(
        "compare",
        help="Train several strategies on the same data and budget; report quality, time, memory, dollars.",
        description="Runs each strategy (a method name) with the same data, split, seed and budget, one after "
        "another, and writes report.md/report.html with plots and a recommendation into --output.",
    )
    add_train_arguments(comp)
    comp.add_argument("--strategies", help="Comma-separated methods (default: scratch,full,lora,qlora).")
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

    from thrifty.sweep.cli import add_sweep_arguments

    sweep = verbs.add_parser(
        "sweep",
        help="Hyperparameter search over any config field (Optuna); `sweep report DIR`, `sweep finalize DIR`.",
        description="Run a sweep file (run config + sweep: section), resuming an interrupted one; "
        "`thrifty sweep report DIR` writes tables and plots; `thrifty sweep finalize DIR` trains the best "
        "config on the full data.",
    )
    add_sweep_arguments(sweep)
    sweep.set_defaults(func=cmd_sweep)

    from thrifty.autotune.cli import add_autotune_arguments

    autotune = verbs.add_parser("autotune", help="Suggest configs for new data from past sweeps' results.")
    add_autotune_arguments(autotune)
    autotune.set_defaults(func=cmd_autotune)

    models = verbs.add_parser("models", help="Bundled models: pull and list.")
    models_verbs = models.add_subparsers(dest="models_verb", required=True, metavar="ACTION")
    pull = models_verbs.add_parser("pull", help="Install and cache a bundled model.")
    pull.add_argument("name", help="Bundled model name, e.g. smollm2-135m.")
    pull.set_defaults(func=cmd_models_pull)
    listing = models_verbs.add_parser("list", help="Show bundled models and which are cached.")
    listing.add_argument("--json", action="store_true", help="Machine-readable output.")
    listing.set_defaults(func=cmd_models_list)

    config = verbs.add_parser("config", help="Run config documentation.")
    config_verbs = config.add_subparsers(dest="config_verb", required=True, metavar="ACTION")
    schema = config_verbs.add_parser("schema", help="Every config field with type, default and help.")
    schema.add_argument("--json", action="store_true", help="JSON Schema instead of a table.")
    schema.set_defaults(func=cmd_config_schema)

    methods = verbs.add_parser("methods", help="List fine-tuning methods.")
    methods.set_defaults(func=cmd_methods)

    demo = verbs.add_parser(
        "demo", help="Fine-tune the bundled SmolLM2-135M on the bundled FAQ; show before/after."
    )
    demo.add_argument("--output", default="runs/demo", help="Run directory.")
    demo.add_argument("--max-steps", type=int, help="Override the demo's step count.")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may come after flags (`--max-steps 3 train.seed=1`), which argparse leaves unparsed.
    args, extra = parser.parse_known_args(argv)
    if extra and (
        args.verb not in ("train", "run", "launch", "compare")
        or any("=" not in x or x.startswith("-") for x in extra)
    ):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.args += extra
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # not the user's input: keep the traceback and say where to report it
        report_internal_error(exc)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
