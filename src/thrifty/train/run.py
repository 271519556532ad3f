"""One fine-tuning run: setup -> guarded training (evaluate before, train, evaluate after) -> save.
What is optimised (sft, dpo) is the objective's (thrifty.objectives): its data, trainer and summary
fields; the recipe here is the same for all of them.

The pieces live beside it: the run folder's policy (folder.py), the Trainer (trainer.py), what a run
leaves (save.py), and what keeps a run safe while it trains (guard.py, checkpoint.py, resume.py).
"""

import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.data import PreparedData
from thrifty.errors import UserError
from thrifty.hardware import current_memory_bytes, device_name, reset_peak_memory, resolve_precision
from thrifty.io import write_json_atomic
from thrifty.train.folder import SUMMARY, check_run_dir, default_run_dir, finished_summary

__all__ = ["SUMMARY", "RunResult", "Setup", "train"]


@dataclass
class RunResult:
    run_dir: Path
    summary: dict[str, Any]
    model: Any
    tokenizer: Any
    data: PreparedData


@dataclass
class Setup:
    """Everything decided before the model loads: the folder, what to resume, the data and the plan."""

    config: RunConfig  # output.dir resolved
    run_dir: Path
    resume: Any  # a resume.ResumePlan; None for --plan-only
    precision: str
    model_path: str
    tokenizer: Any
    data: PreparedData
    plan: dict[str, Any]
    strategy: str = "ddp"  # how a launched run splits the work (thrifty.distributed.strategy)


def train(
    config: RunConfig,
    progress: bool = True,
    plan_only: bool = False,
    resume: str | None = None,
    resume_force: bool = False,
    callbacks: list | None = None,
    preloaded=None,
    on_trainer=None,
) -> RunResult:
    """Fine-tune `config.model` with `config.method` on `config.data`; returns the run and the trained model.

    `plan_only`: stop after printing the plan (nothing is written).
    `resume`: "auto" (newest verified checkpoint, local or remote, else start fresh) or a checkpoint path.
    `callbacks`: extra `transformers.TrainerCallback`s (e.g. a sweep's pruning callback).
    `preloaded`: a `train.reuse.Preloaded` shared by the runs of this process (a sweep worker's trials):
    the base model and data come from it when they were loaded the same way before.
    `on_trainer`: called with the built trainer before training (a sweep's pruner evaluates a subset).
    Raises `Preempted` after a stop signal once the checkpoint is written.
    """
    from thrifty.distributed import rank as ranks
    from thrifty.distributed.strategy import backend
    from thrifty.train.folder import open_run_dir
    from thrifty.train.trackers import tracking
    from thrifty.train.trainer import build_model, prepare_speed

    if not plan_only and resume:
        done = _already_finished(config, resume)
        if done is not None:
            return done
    if config.distributed.world_size > 1 and not plan_only and not ranks.launched():
        from thrifty.train.launch import launch_run

        if callbacks:
            print(
                "warning: per-step callbacks (a sweep's pruner) do not reach a launched job", file=sys.stderr
            )
        run_dir, summary = launch_run(config, resume, resume_force, progress)
        return RunResult(run_dir, summary, None, None, None)  # the model stays with the workers
    if not plan_only:
        ranks.init(backend(config, device_name()))  # one process: nothing to join
    s = setup(config, plan_only, resume, resume_force, preloaded)
    if plan_only:
        return RunResult(s.run_dir, {"plan": s.plan}, None, s.tokenizer, s.data)
    reset_peak_memory()
    rss_before = current_memory_bytes()
    load = preloaded.load_model if preloaded else None
    model = build_model(s.model_path, s.config, s.precision, load=load)
    if ranks.is_main():  # one writer; the others wait until the folder is claimed
        open_run_dir(s.run_dir, s.config, s.resume.checkpoint)
    ranks.barrier()
    prepared = prepare_speed(model, s.tokenizer, s.data, s.config, s.resume.state or {})
    with tracking(s.config.train.report_to, s.run_dir):  # the integrations read it from here to the end
        return train_and_save(s, model, prepared, rss_before, progress, callbacks, on_trainer)


def train_and_save(
    s: Setup, model, prepared: tuple, rss_before: int, progress: bool, callbacks, on_trainer
) -> RunResult:
    """Build the trainer (`prepared`: what `trainer.prepare_speed` returned), train under the guard,
    evaluate after, save, write the summary and give it to the trackers."""
    from thrifty.distributed import rank as ranks
    from thrifty.train.folder import read_metrics
    from thrifty.train.save import save_outputs
    from thrifty.train.trackers import defer_train_end, record_ids_callback, report_summary
    from thrifty.train.trainer import build_trainer

    run_config, collate, speed_state, data = prepared
    trainer, metrics = build_trainer(
        model,
        data,
        run_config,
        collate,
        s.precision,
        s.run_dir,
        progress and ranks.is_main(),
        s.strategy,
        tokenizer=s.tokenizer,
    )
    for callback in callbacks or []:
        trainer.add_callback(callback)
    trackers = s.config.train.report_to
    if trackers:  # after the integrations', which start the tracker runs it records
        trainer.add_callback(record_ids_callback(trackers, s.run_dir))
    close_trackers = defer_train_end(trainer, trackers)  # their runs stay open for the final evaluation
    if on_trainer is not None:
        on_trainer(trainer)
    metrics.history = read_metrics(s.run_dir)

    with train_guarded(trainer, s.config, s.run_dir, s.resume, speed_state) as trained:
        after = eval_metrics(trainer.evaluate())  # a stop from here on is caught too
        save_outputs(trainer, s.tokenizer, s.run_dir, s.strategy)
        summary = summarize(s, trainer, run_config, trained, after, rss_before, len(metrics.history))
        if ranks.is_main():
            write_json_atomic(s.run_dir / SUMMARY, summary)  # last: its presence means the run finished
        ranks.barrier()
    report_summary(trackers, s.run_dir, summary)
    close_trackers()
    return RunResult(s.run_dir, summary, trainer.model, s.tokenizer, s.data)


@dataclass
class Trained:
    """What the guarded training yields to the final phase."""

    output: Any  # transformers' TrainOutput
    eval_before: dict[str, float]  # the evaluation before training (eval_loss and the objective's metrics)
    train_seconds: float  # over all segments of a resumed run
    started: datetime
    stats: dict[str, Any]  # resumes, checkpoints, stops: summary fields from the guard


def plan_as_run(s: Setup, run_config: RunConfig) -> dict[str, Any]:
    """The plan of the micro-batch that trained: the setup planned the configured one, before the
    micro-batch search (train.auto_micro_batch) may have picked another."""
    t, ran = s.config.train, run_config.train
    if (t.micro_batch_size, t.gradient_accumulation_steps) == (
        ran.micro_batch_size,
        ran.gradient_accumulation_steps,
    ):
        return s.plan
    from thrifty.distributed.strategy import applied_offload
    from thrifty.plan.for_run import plan_for_run

    offload = applied_offload(s.strategy, run_config.distributed.offload)
    return plan_for_run(run_config, s.model_path, s.data, s.precision, device_name(), s.strategy, offload)


def summarize(
    s: Setup,
    trainer,
    run_config: RunConfig,
    trained: Trained,
    after: dict[str, float],
    rss_before: int,
    logged: int,
) -> dict[str, Any]:
    from thrifty.objectives import get_objective
    from thrifty.train.save import build_summary, planned_vs_measured, speed_summary

    summary = build_summary(
        s.config,
        s.model_path,
        trainer,
        s.data,
        s.precision,
        trained.eval_before["eval_loss"],
        after["eval_loss"],
        trained.train_seconds,
        trained.started,
    )
    summary.update(get_objective(s.config.train.objective).summary(trained.eval_before, after))
    summary["train_loss"] = trained.output.training_loss
    summary.update(planned_vs_measured(plan_as_run(s, run_config), summary, rss_before))
    summary["metrics_logged"] = logged
    summary.update(trained.stats)
    summary.update(speed_summary(trainer, run_config, trained.train_seconds))
    summary.update(distributed_summary(run_config, s.strategy, summary))
    return summary


def distributed_summary(config: RunConfig, strategy: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The job's shape and the peak memory of every rank (summary's peak_memory_bytes is the largest)."""
    from thrifty.distributed import rank as ranks

    world = config.distributed.world_size
    per_rank = [0.0] * world
    per_rank[ranks.rank()] = float(summary["peak_memory_bytes"])
    per_rank = [int(v) for v in ranks.all_sum(per_rank)]  # a collective: every rank calls it
    out: dict[str, Any] = {
        "world_size": world,
        "nnodes": config.distributed.nnodes,
        "strategy": strategy if world > 1 else "single",
        "global_batch_size": config.global_batch,
    }
    if world > 1:
        out.update(peak_memory_bytes=max(per_rank), peak_memory_bytes_per_rank=per_rank)
    return out


def setup(
    config: RunConfig, plan_only: bool, resume: str | None, resume_force: bool, preloaded=None
) -> Setup:
    """The run folder checked (nothing written yet), the resume plan, tokenizer, data and cost plan."""
    from thrifty.config.objectives import ignored_fields
    from thrifty.distributed.rank import is_main, launched
    from thrifty.distributed.strategy import applied_offload, choose
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.objectives import get_objective
    from thrifty.plan.for_run import one_line, plan_for_run
    from thrifty.plan.planner import HEADROOM
    from thrifty.train.resume import plan_resume, resume_run_dir

    run_dir = resume_run_dir(config.output.dir, resume) or default_run_dir(config)
    if not plan_only and is_main():  # a launched job's folder was checked before launch, and rank 0 opens it
        check_run_dir(run_dir, config)
    config = config.model_copy(update={"output": config.output.model_copy(update={"dir": str(run_dir)})})
    if resume and config.checkpoint.remote and not plan_only and not launched():
        from thrifty.outputs import claim_output

        claim_output(run_dir, "train")  # a remote checkpoint is about to be downloaded into it
    resume_plan = None if plan_only else plan_resume(config, run_dir, resume, resume_force)
    if ignored := ignored_fields(config.train):
        print(f"note: objective {config.train.objective} does not read {', '.join(ignored)}", file=sys.stderr)
    precision = resolve_precision(config.train.precision, config.method.name)
    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    objective = get_objective(config.train.objective)
    if config.data.order != "shuffle" and not objective.thrifty_batches:
        raise UserError(
            f"data.order={config.data.order} orders the rows thrifty batches itself (sft); objective "
            f"{config.train.objective} reads its data through its own trainer: use data.order=shuffle"
        )

    def prepare() -> PreparedData:
        return objective.prepare_data(config.data, tokenizer, config.train.seed)

    data = preloaded.prepared_data(config, model_path, prepare) if preloaded else prepare()
    report_data(data, config)
    device = device_name()
    offload = config.distributed.offload
    strategy, cost_plan = choose(
        config,
        lambda s: plan_for_run(config, model_path, data, precision, device, s, applied_offload(s, offload)),
        HEADROOM,
    )
    print(one_line(cost_plan), file=sys.stderr)
    return Setup(config, run_dir, resume_plan, precision, model_path, tokenizer, data, cost_plan, strategy)


def _already_finished(config: RunConfig, resume: str) -> RunResult | None:
    """`--resume` of a run that finished: nothing to do (unless --overwrite starts it over)."""
    from thrifty.train.resume import resume_run_dir

    run_dir = resume_run_dir(config.output.dir, resume)
    summary = finished_summary(run_dir) if run_dir and not config.output.overwrite else None
    if summary is None:
        return None
    print(f"{run_dir} already finished; nothing to resume", file=sys.stderr)
    return RunResult(run_dir, summary, None, None, None)


@contextmanager
def train_guarded(trainer, config: RunConfig, run_dir: Path, plan, extra_state: dict[str, Any] | None = None):
    """Evaluate before, then `trainer.train()` under checkpoints, signal handlers, the poller and uploads,
    which stay on while the `with` body evaluates after, saves and writes the summary.

    Yields `Trained`. Raises `Preempted` when a stop came during training or the final evaluation, once the
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
        before = saved_eval_before(saved) or evaluate_before(trainer)
        allow_training_wrap(trainer)
        costs["eval_loss_before"] = before["eval_loss"]
        costs["eval_metrics_before"] = before
        t0 = time.perf_counter()  # training seconds exclude the evaluation before
        output = fit(trainer, plan)
        t_end = time.perf_counter()
        guard.raise_if_stopped(trainer.state.global_step)
        guard.training_finished(output.training_loss)
        stats = {"resumed_from_step": plan.step, "resumes": costs["resumes"], **guard.stats()}
        try:
            yield Trained(output, before, counters()["train_seconds"], started, stats)
        except FinalEvalStopped:
            guard.checkpoint_and_stop()
        guard.report_late_stop()


def saved_eval_before(saved: dict[str, Any]) -> dict[str, float] | None:
    """The evaluation before training as a checkpoint stored it (older ones kept the loss alone)."""
    if "eval_metrics_before" in saved:
        return saved["eval_metrics_before"]
    return {"eval_loss": saved["eval_loss_before"]} if "eval_loss_before" in saved else None


def eval_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """An evaluation's numbers without its timings, which differ between a run and its resume."""
    from thrifty.train.callbacks import is_timing

    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and not is_timing(k)}


def evaluate_before(trainer) -> dict[str, float]:
    """The held-out loss before training. Under DeepSpeed, HF's evaluate() would start DeepSpeed for
    inference: ZeRO-2 refuses that, and a ZeRO-3 train() after it finds no engine. The model as loaded
    is whole on every rank, so it is evaluated without DeepSpeed; train() then starts the engine."""
    if not trainer.is_deepspeed_enabled:
        return eval_metrics(trainer.evaluate())
    trainer.is_deepspeed_enabled = False
    try:
        return eval_metrics(trainer.evaluate())
    finally:
        trainer.is_deepspeed_enabled = True


def allow_training_wrap(trainer) -> None:
    """accelerate marks a model it prepared for the evaluation before training as prepared, and its
    training prepare then hands the model back as it is: no DDP (each rank would step on its own
    gradients) and no FSDP sharding. In a launched job the mark is cleared so training wraps it."""
    from thrifty.distributed.rank import launched

    model = trainer.model
    if launched() and getattr(model, "_is_accelerate_prepared", False):
        model._is_accelerate_prepared = False
        trainer.accelerator._models = [m for m in trainer.accelerator._models if m is not model]


def fit(trainer, plan):
    """`trainer.train()`, continuing from the plan's checkpoint; only restored when training had finished."""
    from thrifty.train.checkpoint import restore_finished

    if plan.finished:
        return restore_finished(trainer, plan.checkpoint, plan.state["train_loss"])
    return trainer.train(resume_from_checkpoint=str(plan.checkpoint) if plan.checkpoint else None)


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
