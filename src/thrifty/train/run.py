"""One fine-tuning run, top to bottom: setup -> evaluate before -> train -> evaluate after -> save -> summary."""

import json
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thrifty.config.load import write_resolved
from thrifty.config.schema import RunConfig
from thrifty.data import PreparedData, prepare_data
from thrifty.errors import UserError
from thrifty.eval.perplexity import loss_to_perplexity
from thrifty.hardware import (
    current_memory_bytes,
    device_name,
    peak_memory_bytes,
    reset_peak_memory,
    resolve_precision,
)
from thrifty.io import write_json_atomic

SUMMARY = "summary.json"  # written last: its presence means the run finished


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    model: Any
    tokenizer: Any
    data: PreparedData


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    model = Path(config.model.name.rstrip("/")).name or "model"
    return Path("runs") / f"{model}-{config.method.name}-{stamp}"


def check_run_dir(run_dir: Path, overwrite: bool) -> None:
    """A finished run is never overwritten by accident."""
    if (run_dir / SUMMARY).exists() and not overwrite:
        raise UserError(
            f"{run_dir} already holds a finished run; choose another --output or pass --overwrite"
        )
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"output {run_dir} exists and is not a directory")


def train(
    config: RunConfig,
    progress: bool = True,
    plan_only: bool = False,
    resume: str | None = None,
    resume_force: bool = False,
    callbacks: list | None = None,
) -> RunResult:
    """Fine-tune `config.model` with `config.method` on `config.data`; returns the run and the trained model.

    `plan_only`: stop after printing the plan (nothing is written).
    `resume`: "auto" (newest verified checkpoint, local or remote, else start fresh) or a checkpoint path.
    `callbacks`: extra `transformers.TrainerCallback`s (e.g. a sweep's pruning callback).
    Raises `Preempted` after a stop signal once the checkpoint is written.
    """
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.plan.for_run import one_line, plan_for_run
    from thrifty.train.resume import plan_resume, resume_run_dir

    run_dir = resume_run_dir(config.output.dir, resume) or default_run_dir(config)
    if not plan_only:
        if resume and (run_dir / SUMMARY).is_file() and not config.output.overwrite:
            print(f"{run_dir} already finished; nothing to resume", file=sys.stderr)
            return RunResult(run_dir, json.loads((run_dir / SUMMARY).read_text()), None, None, None)
        check_run_dir(run_dir, config.output.overwrite)
    config = config.model_copy(update={"output": config.output.model_copy(update={"dir": str(run_dir)})})
    resume_plan = None if plan_only else plan_resume(config, run_dir, resume, resume_force)
    precision = resolve_precision(config.train.precision)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    data = prepare_data(config.data, tokenizer, config.train.seed)
    report_data(data, config)
    cost_plan = plan_for_run(config, model_path, data, precision, device_name())
    print(one_line(cost_plan), file=sys.stderr)
    if plan_only:
        return RunResult(run_dir, {"plan": cost_plan}, None, tokenizer, data)
    reset_peak_memory()
    rss_before = current_memory_bytes()
    model = build_model(model_path, config)

    if config.output.overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_resolved(config, run_dir / "config.yaml")
    reset_run_files(run_dir, resume_plan.checkpoint)

    trainer_config, speed_state = prepare_speed(model, tokenizer, data, config, resume_plan.state or {})
    trainer, metrics = build_trainer(model, tokenizer, data, trainer_config, precision, run_dir, progress)
    for callback in callbacks or []:
        trainer.add_callback(callback)
    metrics.history = read_metrics(run_dir)
    guarded = train_guarded(trainer, config, run_dir, resume_plan, speed_state)
    with guarded as (output, before, train_seconds, started, stats):  # a stop from here on is caught too
        after = trainer.evaluate()["eval_loss"]

        save_outputs(trainer.model, tokenizer, run_dir)
        summary = build_summary(
            config, model_path, trainer, data, precision, before, after, train_seconds, started
        )
        summary["train_loss"] = output.training_loss
        summary.update(planned_vs_measured(cost_plan, summary, rss_before))
        summary["metrics_logged"] = len(metrics.history)
        summary.update(stats)
        summary.update(speed_summary(trainer, trainer_config, train_seconds))
        write_json_atomic(run_dir / SUMMARY, summary)
    return RunResult(run_dir, summary, trainer.model, tokenizer, data)


def planned_vs_measured(plan: dict[str, Any], summary: dict[str, Any], rss_before: int) -> dict[str, Any]:
    """The planner's prediction beside the measurement, so its error is visible on every run."""
    from thrifty.plan.compute import cpu_peak_flops

    out = {
        "predicted_peak_memory_bytes": plan["peak_memory_bytes"],
        "predicted_seconds": plan["predicted_seconds"],
        "predicted_flops": plan["flops"],
        "predicted_tokens": plan["tokens"],
        "plan_mfu": plan["mfu"],
    }
    if summary["device"] == "cpu":
        # RSS includes the interpreter and libraries; the plan predicts what training adds to it.
        out["peak_memory_growth_bytes"] = summary["peak_memory_bytes"] - rss_before
        flops_done = plan["flops"] * summary["train_tokens"] / max(plan["tokens"], 1)
        out["achieved_mfu"] = flops_done / (summary["wall_seconds"] * cpu_peak_flops(summary["precision"]))
    return out


def prepare_speed(model, tokenizer, data: PreparedData, config: RunConfig, saved: dict[str, Any]):
    """Compile (when it helps) and pick the micro-batch (when asked); returns the config the trainer
    runs with and the state a resume needs to replay the same batches."""
    from thrifty.train.speed import choose_micro_batch, compile_model, make_collator

    device = device_name()
    compile_model(model, config.train.compile, device)
    collate = make_collator(config, tokenizer, device)
    return choose_micro_batch(model, data.train, collate, config, saved, device)


def speed_summary(trainer, config: RunConfig, train_seconds: float) -> dict[str, Any]:
    """How the batches were built and what share of training time building them took (target < 2%)."""
    from thrifty.train.speed import uses_packing

    collate = trainer.data_collator
    data_seconds = getattr(collate, "seconds", 0.0)
    return {
        "packing": uses_packing(config),
        "micro_batch_size": config.train.micro_batch_size,
        "gradient_accumulation_steps": config.train.gradient_accumulation_steps,
        "data_seconds": round(data_seconds, 3),
        "data_time_share": round(data_seconds / max(train_seconds, 1e-9), 5),
    }


@contextmanager
def train_guarded(trainer, config: RunConfig, run_dir: Path, plan, extra_state: dict[str, Any] | None = None):
    """Evaluate before, then `trainer.train()` under checkpoints, signal handlers, the poller and uploads,
    which stay on while the `with` body evaluates after, saves and writes the summary.

    Yields (train output, eval loss before, training seconds over all segments, start time, summary
    fields). Raises `Preempted` when a stop came during training or the final evaluation, once the
    checkpoint is written; a stop after the final evaluation lets the body finish (see guard.py).
    """
    from thrifty.train.guard import FinalEvalStopped, Guard

    saved = plan.state or {}
    started = datetime.fromisoformat(saved["started_at"]) if "started_at" in saved else datetime.now(UTC)
    costs = {
        "started_at": started.isoformat(),
        "resumes": saved.get("resumes", -1) + 1,
        **(extra_state or {}),
    }
    t0 = time.perf_counter()
    t_end = None  # set when training ends: a checkpoint after that counts no final-phase seconds

    def counters() -> dict[str, Any]:  # cost counters as of now, stored in every checkpoint
        elapsed = saved.get("train_seconds", 0.0) + (time.perf_counter() if t_end is None else t_end) - t0
        return {**costs, "train_seconds": elapsed, "model": config.model.name, "method": config.method.name}

    guard = Guard(config, run_dir, plan, trainer, counters)
    with guard:
        before = saved["eval_loss_before"] if "eval_loss_before" in saved else trainer.evaluate()["eval_loss"]
        costs["eval_loss_before"] = before
        t0 = time.perf_counter()  # training seconds exclude the evaluation before
        output = fit(trainer, plan)
        t_end = time.perf_counter()
        guard.raise_if_stopped(trainer.state.global_step)
        guard.training_finished(output.training_loss)
        stats = {"resumed_from_step": plan.step, "resumes": costs["resumes"], **guard.stats()}
        try:
            yield output, before, counters()["train_seconds"], started, stats
        except FinalEvalStopped:
            guard.checkpoint_and_stop()
        guard.report_late_stop()


def fit(trainer, plan):
    """`trainer.train()`, continuing from the plan's checkpoint; only restored when training had finished."""
    from thrifty.train.checkpoint import restore_finished

    if plan.finished:
        return restore_finished(trainer, plan.checkpoint, plan.state["train_loss"])
    return trainer.train(resume_from_checkpoint=str(plan.checkpoint) if plan.checkpoint else None)


def reset_run_files(run_dir: Path, checkpoint: Path | None) -> None:
    """metrics.jsonl as of the checkpoint (so lines logged after it, lost with the run, never repeat),
    and no temporary checkpoint folders left by a killed run."""
    from thrifty.train.checkpoint import METRICS

    path = run_dir / METRICS
    if checkpoint is not None and (checkpoint / METRICS).is_file():
        shutil.copyfile(checkpoint / METRICS, path)
    else:
        path.unlink(missing_ok=True)
    shutil.rmtree(run_dir / "trainer", ignore_errors=True)  # HF's temporary checkpoint folders


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def report_data(data: PreparedData, config: RunConfig) -> None:
    """One stderr line per thing the user should know about their data before paying for training."""
    stats = data.train_stats
    print(
        f"data: {len(data.train)} train / {len(data.eval)} eval examples ({data.format}), "
        f"{stats.tokens:,} train tokens, {stats.label_tokens:,} learned",
        file=sys.stderr,
    )
    truncated = stats.truncated + data.eval_stats.truncated
    if truncated:
        print(
            f"note: {truncated} examples were longer than data.max_seq_len={config.data.max_seq_len} and were "
            f"truncated ({stats.dropped + data.eval_stats.dropped} dropped: nothing left to learn)",
            file=sys.stderr,
        )


def build_model(model_path: str, config: RunConfig) -> Any:
    """Load the base the way the method needs it (weights, 4/8-bit, or random) and adapt it."""
    import torch

    from thrifty.methods import get_method
    from thrifty.models.load import load_model

    method = get_method(config.method.name)
    torch.manual_seed(config.train.seed)  # random init and adapter init are part of what the seed fixes
    base = load_model(model_path, config.model, method.quantization, method.random_init)
    if config.train.gradient_checkpointing:
        base.config.use_cache = False
    return method.apply(base, config.method)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total); peft's own count includes virtual-token embeddings and 4-bit packing."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def build_trainer(
    model, tokenizer, data: PreparedData, config: RunConfig, precision: str, run_dir: Path, progress: bool
):
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback
    from transformers.trainer_callback import ProgressCallback as HFProgress

    from thrifty.train.callbacks import MetricsCallback, ProgressCallback
    from thrifty.train.speed import make_collator, trainer_kwargs

    t = config.train
    args = TrainingArguments(
        output_dir=str(run_dir / "trainer"),
        max_steps=t.max_steps or -1,
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.micro_batch_size,
        per_device_eval_batch_size=t.micro_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # a float below 1 is a ratio of the total steps
        max_grad_norm=t.max_grad_norm,
        optim=t.optimizer,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device_name() == "cpu",
        activation_checkpointing=t.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if t.gradient_checkpointing else None,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        eval_strategy="steps" if t.eval_every_steps else "no",
        eval_steps=t.eval_every_steps,
        metric_for_best_model="eval_loss" if t.early_stopping_patience else None,
        greater_is_better=False,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="no",
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **trainer_kwargs(config, device_name()),
    )
    metrics = MetricsCallback(run_dir / "metrics.jsonl")
    callbacks = [metrics] + ([ProgressCallback()] if progress else [])
    if t.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))
    if t.max_minutes:
        from thrifty.train.callbacks import TimeLimitCallback

        callbacks.append(TimeLimitCallback(t.max_minutes * 60))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.eval,
        data_collator=make_collator(config, tokenizer, device_name()),
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw dicts; metrics.jsonl and our bar replace it
    trainer.remove_callback(HFProgress)
    return trainer, metrics


def save_outputs(model, tokenizer, run_dir: Path) -> None:
    """The adapter in standard PEFT format (`adapter/`), or the whole model for methods that train
    base weights (`model/`, safetensors), plus the tokenizer. Each is written as NAME.tmp and renamed
    into place once complete and fsync'd, the weights last: their folder present means the tokenizer
    is complete too, and summary.json (written after) means the run is."""
    from peft import PeftModel

    from thrifty.train.checkpoint import replace_folder

    weights = "adapter" if isinstance(model, PeftModel) else "model"
    for name, obj in (("tokenizer", tokenizer), (weights, model)):
        tmp = run_dir / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        obj.save_pretrained(str(tmp))
        if name == "model":
            tokenizer.save_pretrained(str(tmp))  # a whole model folder loads on its own (--model RUN/model)
        replace_folder(tmp, run_dir / name)
    shutil.rmtree(run_dir / "trainer", ignore_errors=True)


def build_summary(
    config: RunConfig,
    model_path: str,
    trainer,
    data: PreparedData,
    precision: str,
    before: float,
    after: float,
    train_seconds: float,
    started: datetime,
) -> dict[str, Any]:
    import torch
    import transformers

    import thrifty

    trainable, total = count_parameters(trainer.model)
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "model": config.model.name,
        "model_path": model_path,
        "method": config.method.name,
        "trainable_params": int(trainable),
        "total_params": int(total),
        "trainable_percent": round(100.0 * trainable / total, 4),
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0.0, 4),
        "stopped_early": bool(config.train.max_steps and trainer.state.global_step < config.train.max_steps),
        "train_examples": len(data.train),
        "eval_examples": len(data.eval),
        "data_format": data.format,
        "truncated_examples": data.train_stats.truncated + data.eval_stats.truncated,
        "dropped_examples": data.train_stats.dropped + data.eval_stats.dropped,
        "train_tokens": tokens,
        "wall_seconds": round(train_seconds, 3),
        "tokens_per_second": round(tokens / max(train_seconds, 1e-9), 2),
        "peak_memory_bytes": peak_memory_bytes(),
        "eval_loss_before": before,
        "eval_loss_after": after,
        "perplexity_before": loss_to_perplexity(before),
        "perplexity_after": loss_to_perplexity(after),
        "precision": precision,
        "device": device_name(),
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "versions": {
            "thrifty": thrifty.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }
