"""`thrifty eval RUN`: perplexity, task metrics on generated answers, speed and memory; base vs fine-tuned."""

import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thrifty.config.objectives import OBJECTIVES
from thrifty.errors import UserError
from thrifty.eval.fewshot.build import check_k
from thrifty.inference.device import choose_device
from thrifty.inference.run_folder import RunFolder, load_base, load_tokenizer_for, load_tuned, open_run

EVAL_JSON = "eval.json"
EVAL_MD = "eval.md"


@dataclass
class EvalOptions:
    data: str | None = None  # default: the run's own held-out examples
    # None: the default metrics, skipped without a word on text data; a list: asked for, so text data is an error
    metrics: list[str] | None = None
    labels: list[str] | None = None
    compare_base: bool = False
    max_examples: int | None = None
    batch_size: int = 8
    max_new_tokens: int = 128
    shown_examples: int = 3
    lm_eval_tasks: list[str] | None = None
    lm_eval_include: str | None = None
    lm_eval_limit: int | None = None
    force: bool = False
    trust_remote_code: bool = False  # only the command line may allow a run's model code
    base: str | None = None  # this machine's copy of the base model (default: where the run recorded it)
    device: str = "auto"  # auto, cpu or cuda: see thrifty.inference.device
    progress: bool = True
    few_shot: int | None = None  # also the base model with this many training examples in each prompt
    few_shot_pick: str = "retrieved"  # see thrifty.eval.fewshot.pick


@dataclass
class EvalSet:
    source: str
    format: str
    examples: list[dict[str, Any]]
    pairs: list[dict[str, Any]] = field(default_factory=list)  # preference data: TRL-ready pairs
    rows: list[dict[str, list[int]]] = field(default_factory=list)  # tokenized, answers labelled
    prompts: list[str] = field(default_factory=list)  # rendered up to the last assistant turn
    references: list[str] = field(default_factory=list)
    few_shot: dict[str, Any] = field(default_factory=dict)  # few-shot sets: their FewShotStats summary


def evaluate_run(run_path: str | Path, options: EvalOptions) -> dict[str, Any]:
    """Evaluate the fine-tuned model of a finished run (and its base); write eval.json and eval.md last."""
    from thrifty.eval.report import write_markdown
    from thrifty.io import write_json_atomic

    check_options(options)
    device = choose_device(options.device)
    run = open_run(run_path, options.trust_remote_code, options.base)
    check_eval_target(run, options)
    tasks = None
    if options.lm_eval_tasks:  # lm-eval's task names are checked before any generation, not after
        from thrifty.eval.harness import check_installed, task_manager

        check_installed()
        tasks = task_manager(options.lm_eval_tasks, options.lm_eval_include)
    tokenizer = load_tokenizer_for(run)
    data = load_eval_set(run, options, tokenizer)
    check_task_metrics(data, options)
    options = replace(options, metrics=metric_names(options), device=device)
    print(
        f"eval: {len(data.examples)} examples from {data.source} ({data.format}), on {device}",
        file=sys.stderr,
    )
    shots = few_shot_set(run, data, tokenizer, options) if options.few_shot else None
    tuned = load_tuned(run, device=device)
    models = {"fine_tuned": measure(tuned, tokenizer, data, options, "fine-tuned")}
    if options.compare_base:
        models["base"] = _measure_base(run, tuned, tokenizer, data, options)
    if shots is not None:
        label = f"base {options.few_shot}-shot"
        models["base_few_shot"] = _measure_base(run, tuned, tokenizer, shots, options, label)
    preference = _preference(run, tuned, tokenizer, data, models, options)
    report = {
        "run": str(run.path),
        "model": run.config.model.name,
        "method": run.config.method.name,
        "data": data.source,
        "data_format": data.format,
        "examples": len(data.examples),
        "metrics": options.metrics,
        "labels": options.labels,
        "max_new_tokens": options.max_new_tokens,
        "batch_size": options.batch_size,
        "device": device,
        "models": {name: _without_answers(result) for name, result in models.items()},
        "delta": _delta(models),
        "samples": _samples(data, models, options.shown_examples),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    if preference:
        report["preference"] = preference
    if shots is not None:
        report["few_shot"] = shots.few_shot
        report["delta_vs_few_shot"] = _delta(models, against="base_few_shot")
    if tasks is not None:
        report["lm_eval"] = _lm_eval(run, options, tasks)
    write_markdown(report, run.path / EVAL_MD)
    write_json_atomic(run.path / EVAL_JSON, report)
    return report


def check_eval_target(run: RunFolder, options: EvalOptions) -> None:
    """eval writes eval.json and eval.md into the run folder it reads, and nowhere else: never over a
    previous eval without --force, never into a folder thrifty marked as something other than a run
    (a folder without a marker is a run from before the markers, which open_run has checked). A base
    the run needs but this machine lacks is one line here, before any model loads."""
    from thrifty.inference.run_folder import base_model_path
    from thrifty.outputs import marker_kind

    kind = marker_kind(run.path)
    if kind not in (None, "train"):
        raise UserError(
            f"{run.path} is a thrifty {kind} folder, not a run folder; pass the --output folder of a "
            "`thrifty train` run"
        )
    if run.config.train.objective == "reward":
        raise UserError(
            f"{run.path} is a reward model (one score, no generation); its held-out accuracy is in "
            "summary.json (preference_accuracy_after); use it as GRPO's --reward"
        )
    for name in (EVAL_JSON, EVAL_MD):
        if (run.path / name).exists() and not options.force:
            raise UserError(f"{run.path / name} exists; pass --force to replace it")
    if run.adapter_dir is not None or options.compare_base:
        base_model_path(run)


def check_options(options: EvalOptions) -> None:
    """Counts that must be positive: a zero batch would crash deep in generation, a negative
    --max-examples would silently drop examples from the end."""
    counts = {
        "--batch-size": options.batch_size,
        "--max-examples": options.max_examples,
        "--max-new-tokens": options.max_new_tokens,
        "--lm-eval-limit": options.lm_eval_limit,
    }
    for flag, value in counts.items():
        if value is not None and value < 1:
            raise UserError(f"{flag} {value}: must be a positive whole number")
    if options.shown_examples < 0:
        raise UserError(f"--examples {options.shown_examples}: must be 0 or more")
    check_k(options.few_shot, options.few_shot_pick)


def metric_names(options: EvalOptions) -> list[str]:
    """The metrics to score: the named ones (checked), else the defaults; accuracy joins when labels are set."""
    from thrifty.eval.metrics import parse_metrics

    return parse_metrics(",".join(options.metrics) if options.metrics else None, options.labels)


def check_task_metrics(data: EvalSet, options: EvalOptions) -> None:
    """Before any generation: metrics asked for by name need reference answers (plain text has none, so
    it would silently get perplexity only), and with --labels each answer must name a label."""
    from thrifty.eval.metrics import check_labels

    if data.prompts and options.labels:
        check_labels(data.references, options.labels)
    if data.prompts or not (options.metrics or options.labels):
        return
    asked = ", ".join(metric_names(options))
    raise UserError(
        f"{data.source} has plain text only ({data.format} format), no reference answers to score "
        f"{asked} against: evaluate perplexity only (no --metrics/--labels) or use an instruction format "
        "(alpaca, chat, sharegpt, prompt_completion)"
    )


def _lm_eval(run: RunFolder, options: EvalOptions, manager) -> dict[str, Any]:
    from thrifty.eval.harness import run_lm_eval

    return run_lm_eval(
        run,
        options.lm_eval_tasks,
        options.lm_eval_include,
        options.batch_size,
        options.lm_eval_limit,
        options.compare_base,
        manager,
        options.device,
    )


def _measure_base(
    run: RunFolder, tuned, tokenizer, data: EvalSet, options: EvalOptions, label: str = "base"
) -> dict[str, Any]:
    """The base model on `data`'s prompts: the adapter switched off (one model in memory), or, for runs
    that saved a whole model, the base loaded beside it."""
    if run.adapter_dir is not None:
        with tuned.disable_adapter():
            return measure(tuned, tokenizer, data, options, label)
    return measure(load_base(run, device=options.device).eval(), tokenizer, data, options, label)


def few_shot_set(run: RunFolder, data: EvalSet, tokenizer, options: EvalOptions) -> EvalSet:
    """`data`'s examples with --few-shot K training examples of the run before each question, as an
    EvalSet of its own (its few_shot field: shots used, prompts shortened or truncated, prompt tokens)."""
    from thrifty.eval.fewshot.build import build_few_shot, check_queries, training_pool

    if data.pairs:
        raise UserError(
            f"{data.source}: --few-shot scores answers, and this run is judged on preference pairs; "
            "evaluate a few-shot baseline on instruction data (--data FILE)"
        )
    check_queries(data.examples, data.source)
    config = run.config.data
    pool = training_pool(config, run.config.train.seed)
    k, pick = options.few_shot, options.few_shot_pick
    built = build_few_shot(data.examples, pool, k, pick, tokenizer, config, run.config.train.seed)
    if not built.rows:
        raise UserError(f"{data.source}: no few-shot prompt has an answer to score within data.max_seq_len")
    stats = built.stats.summary()
    print(
        f"eval: {k}-shot ({pick}) from {len(pool)} training examples: {stats['shots_per_prompt']:.2f} "
        f"shots per prompt, {stats['shortened']} prompts shortened and {stats['truncated']} truncated to "
        f"fit data.max_seq_len={config.max_seq_len}",
        file=sys.stderr,
    )
    few_shot = {**stats, "max_seq_len": config.max_seq_len}
    return replace(
        data, rows=built.rows, prompts=built.prompts, references=built.references, few_shot=few_shot
    )


def load_eval_set(run: RunFolder, options: EvalOptions, tokenizer) -> EvalSet:
    """The eval file (any format `thrifty train` reads), else the run's own held-out split (same seed)."""
    from thrifty.data import held_out_examples, load_examples
    from thrifty.data.template import render_prompt, with_system
    from thrifty.data.tokenize import encode_all
    from thrifty.eval.preference import as_answers, held_out_pairs, is_preference_file

    config = run.config.data
    pairs: list[dict[str, Any]] = []
    if (options.data and is_preference_file(options.data, config)) or (
        not options.data and OBJECTIVES[run.config.train.objective].pairs  # (reward runs were refused)
    ):  # pairs: scored on the chosen answers, plus TRL's preference figures (kto/grpo data read as SFT)
        pairs, canonical, source = held_out_pairs(run, options.data, tokenizer)
        examples, fmt = as_answers(canonical), "preference"
    elif options.data:
        examples, fmt = load_examples(options.data, config.model_copy(update={"format": "auto"}))
        source = options.data
    else:
        examples, fmt, source = held_out_examples(config, run.config.train.seed)
    if options.max_examples is not None:
        examples, pairs = examples[: options.max_examples], pairs[: options.max_examples]
    data = EvalSet(source, fmt, examples, pairs)
    data.rows, _ = encode_all(
        examples, tokenizer, config.max_seq_len, config.train_on_inputs, config.system_prompt
    )
    if not data.rows:
        raise UserError(
            f"{source}: no example has an answer to score within data.max_seq_len={config.max_seq_len}"
        )
    for example in examples:
        messages = example.get("messages")
        if not messages:
            continue  # plain text: perplexity only
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        data.prompts.append(render_prompt(with_system(messages[:last], config.system_prompt), tokenizer))
        data.references.append(messages[last]["content"])
    return data


def measure(model, tokenizer, data: EvalSet, options: EvalOptions, label: str) -> dict[str, Any]:
    """Perplexity, then greedy answers in left-padded batches with tokens/s and peak memory."""
    from thrifty.eval.metrics import score_answers
    from thrifty.eval.perplexity import perplexity
    from thrifty.hardware import peak_memory_bytes, reset_peak_memory

    reset_peak_memory()
    result: dict[str, Any] = perplexity(model, data.rows, tokenizer.pad_token_id, options.batch_size)
    if data.prompts:
        answers, tokens, seconds = _generate_all(model, tokenizer, data.prompts, options, label)
        means, per_example = score_answers(answers, data.references, options.metrics, options.labels)
        result.update(
            scores=means,
            answers=answers,
            per_example=per_example,
            generated_tokens=tokens,
            generation_seconds=round(seconds, 3),
            tokens_per_second=round(tokens / max(seconds, 1e-9), 2),
        )
    result["peak_memory_bytes"] = peak_memory_bytes()
    return result


def _generate_all(model, tokenizer, prompts: list[str], options: EvalOptions, label: str):
    from tqdm import tqdm

    from thrifty.inference.generate import GenerationOptions, generate_with_counts

    gen = GenerationOptions(max_new_tokens=options.max_new_tokens)
    # Similar lengths in one batch waste less on left padding; answers go back to the input order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[str] = [""] * len(prompts)
    tokens = 0
    started = time.perf_counter()
    batches = range(0, len(order), options.batch_size)
    for start in tqdm(batches, desc=f"generating ({label})", unit="batch", disable=not options.progress):
        ids = order[start : start + options.batch_size]
        texts, counts = generate_with_counts(model, tokenizer, [prompts[i] for i in ids], gen)
        for i, text in zip(ids, texts, strict=True):
            answers[i] = text
        tokens += sum(counts)
    return answers, tokens, time.perf_counter() - started


def _preference(run: RunFolder, tuned, tokenizer, data: EvalSet, models, options) -> dict[str, Any]:
    """On pairs: TRL's margin and accuracy of the tuned model against the base, and with --compare-base
    the win rate of its answers over the base's under the judge (the first metric against the chosen
    answer: token F1 when scored, else the first metric)."""
    from thrifty.eval.preference import judge_scores, preference_metrics, run_beta, win_rate

    if not data.pairs:
        return {}
    reference = None if run.adapter_dir is not None else load_base(run, device=options.device).eval()
    figures = preference_metrics(
        tuned,
        reference,
        tokenizer,
        data.pairs,
        run_beta(run.config),
        run.config.data.max_seq_len,
        options.batch_size,
        options.device,
        options.progress,
    )
    out: dict[str, Any] = {"fine_tuned": figures}
    if "base" in models and options.metrics:
        scored = [m for m in options.metrics if m != "accuracy"]
        judge = "f1" if "f1" in scored else scored[0]  # token F1 separates answers that exact calls ties
        tuned_scores = judge_scores(models["fine_tuned"]["per_example"], judge)
        base_scores = judge_scores(models["base"]["per_example"], judge)
        out["judge"] = f"{judge} against the chosen answer"
        out.update(win_rate(tuned_scores, base_scores))
    return out


def _without_answers(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("answers", "per_example")}


def _delta(models: dict[str, dict[str, Any]], against: str = "base") -> dict[str, float]:
    """fine-tuned minus `against` (the base, or the base with shots) for every number both have
    (perplexity: lower is better)."""
    if against not in models:
        return {}
    tuned, base = models["fine_tuned"], models[against]
    delta = {"perplexity": tuned["perplexity"] - base["perplexity"], "loss": tuned["loss"] - base["loss"]}
    for name, value in tuned.get("scores", {}).items():
        delta[name] = value - base["scores"][name]
    return delta


def _samples(data: EvalSet, models: dict[str, dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first few prompts with the reference and each model's answer, for a person to read."""
    samples = []
    for i in range(min(count, len(data.prompts))):
        messages = data.examples[i]["messages"]
        question = [m["content"] for m in messages if m["role"] == "user"][-1]
        sample = {"prompt": question, "reference": data.references[i]}
        for name, result in models.items():
            sample[name] = result["answers"][i]
        samples.append(sample)
    return samples
