"""What a finished run leaves: the adapter or whole model with its tokenizer (each renamed into place
when complete), and the summary's fields: what was trained, how fast, the plan beside the measurement."""

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.data import PreparedData
from thrifty.eval.perplexity import loss_to_perplexity
from thrifty.hardware import device_name, peak_memory_bytes


def save_outputs(trainer, tokenizer, run_dir: Path, strategy: str = "single") -> None:
    """The adapter in standard PEFT format (`adapter/`), or the whole model for methods that train
    base weights (`model/`, safetensors), plus the tokenizer. Each is written as NAME.tmp and renamed
    into place once complete and fsync'd, the weights last: their folder present means the tokenizer
    is complete too, and summary.json (written after) means the run is.

    In a launched job every rank takes part in gathering sharded weights (FSDP, ZeRO-3) and rank 0
    alone writes them, in the same format as a one-process run."""
    from thrifty.distributed import rank as ranks

    state_dict = None
    if strategy in ("fsdp", "zero3"):  # a collective: full tensors gathered onto rank 0
        state_dict = gathered_state_dict(trainer, strategy)
    if ranks.is_main():
        write_outputs(trainer.model, tokenizer, run_dir, state_dict)
    ranks.barrier()


def gathered_state_dict(trainer, strategy: str) -> dict:
    """Full (unsharded) tensors on rank 0's CPU. FSDP checkpoints are sharded (state_dict_type), so the
    final weights are gathered with torch's own full-state-dict API; ZeRO-3 through accelerate, which
    gathers DeepSpeed's 16-bit weights."""
    if strategy == "zero3":
        return trainer.accelerator.get_state_dict(trainer.model_wrapped)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(trainer.model_wrapped, options=options)


def write_outputs(model, tokenizer, run_dir: Path, state_dict=None) -> None:
    from peft import PeftModel

    from thrifty.train.checkpoint import replace_folder

    weights = "adapter" if isinstance(model, PeftModel) else "model"
    for name, obj in (("tokenizer", tokenizer), (weights, model)):
        tmp = run_dir / f"{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if name == weights and state_dict is not None:
            obj.save_pretrained(str(tmp), state_dict=state_dict)
        else:
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

    from thrifty.version import __version__

    trainable, total = count_parameters(trainer.model)
    tokens = int(trainer.state.num_input_tokens_seen)
    return {
        "model": config.model.name,
        "model_path": model_path,
        "method": config.method.name,
        "objective": config.train.objective,
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
            "thrifty": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }


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


def speed_summary(trainer, config: RunConfig, train_seconds: float) -> dict[str, Any]:
    """How the batches were built and what share of training time building them took (target < 2%)."""
    from thrifty.train.speed import uses_packing

    collate = trainer.data_collator
    data_seconds = getattr(collate, "seconds", 0.0)
    return {
        "packing": uses_packing(config),
        # chunked: thrifty's chunked head+loss; liger: Liger's fused one (CUDA); plain: the model's own
        "loss_head": loss_head(trainer.model),
        "micro_batch_size": config.train.micro_batch_size,
        "gradient_accumulation_steps": config.train.gradient_accumulation_steps,
        "data_seconds": round(data_seconds, 3),
        "data_time_share": round(data_seconds / max(train_seconds, 1e-9), 5),
    }


def loss_head(model) -> str:
    from thrifty.methods.adapters import base_model_of
    from thrifty.models.chunked_loss import installed

    if installed(model):
        return "chunked"
    forward = base_model_of(model).forward
    return "liger" if "liger" in (getattr(forward, "__module__", None) or "") else "plain"


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total); peft's own count includes virtual-token embeddings and 4-bit packing."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
