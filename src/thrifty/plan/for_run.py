"""The plan for a configured `thrifty train` run, printed before training and kept in its summary."""

import math
from typing import Any

# Trainer optimizer name -> the planner's optimizer-state model (bytes per trainable parameter).
PLAN_OPTIMIZER = {"sgd": "sgd", "adamw_bnb_8bit": "adamw8bit", "paged_adamw_8bit": "paged_adamw8bit"}


def plan_for_run(
    config, model_path: str, data, precision: str, device: str, strategy: str = "ddp", offload: str = "none"
) -> dict[str, Any]:
    """Plan with this run's real numbers: longest batch length, planned tokens, this device; per device
    for a launched run (world size from `distributed`; `strategy` and the `offload` it really applies,
    see thrifty.distributed.strategy.applied_offload)."""
    from thrifty.plan.planner import PlanRequest, make_plan

    t = config.train
    lengths = data.lengths()
    world = config.distributed.world_size
    per_step = t.micro_batch_size * t.gradient_accumulation_steps * world
    steps = t.max_steps or math.ceil(t.epochs * len(lengths) / per_step)
    seq_len, tokens_per_example = per_sequence(lengths, t.objective)
    request = PlanRequest(
        model=model_path,
        method=config.method,
        objective=t.objective,
        precompute_ref_logps=t.precompute_ref_logps,
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        seq_len=seq_len,
        micro_batch=t.micro_batch_size,
        grad_accum=t.gradient_accumulation_steps,
        tokens=max(1, int(steps * per_step * tokens_per_example)),
        precision=precision,
        gradient_checkpointing=t.gradient_checkpointing,
        chunked_loss=t.chunked_loss,
        optimizer=PLAN_OPTIMIZER.get(t.optimizer, "adamw"),
        device="cpu" if device == "cpu" else "cuda",
        attention="sdpa",
        revision=config.model.revision,
        trust_remote_code=config.model.trust_remote_code,
        gpus=world,
        strategy=strategy,
        # A CPU run has nothing to offload (the launch check refuses it); else what the strategy moves.
        offload="none" if device == "cpu" else offload,
    )
    plan = make_plan(request)
    plan["predicted_seconds"] = plan.get("cpu_seconds") or _gpu_seconds(plan)
    return plan


def per_sequence(lengths: list[int], objective: str) -> tuple[int, float]:
    """(longest sequence, mean tokens per example) as the planner counts them for one sequence per
    example; the objective multiplies (thrifty.plan.objective). A pair's length is prompt+chosen plus
    prompt+rejected (data.preference.count_tokens), so half of it is one side: the mean exactly, the
    longest a floor (TRL pads both sides of a pair to the longer)."""
    from thrifty.plan.objective import PAIRED

    share = 2 if objective in PAIRED else 1
    return max(1, math.ceil(max(lengths) / share)), sum(lengths) / len(lengths) / share


def _gpu_seconds(plan: dict[str, Any]) -> float | None:
    import torch

    from thrifty.plan.catalog import gpus
    from thrifty.plan.cost import gpu_seconds

    name = torch.cuda.get_device_name(0).lower() if torch.cuda.is_available() else ""
    for key, gpu in gpus().items():
        if any(alias.lower() in name for alias in [key, *(gpu.get("aliases") or [])]):
            return gpu_seconds(plan["flops"], gpu, plan["precision"], plan["mfu"], plan["gpus"])
    return None


def one_line(plan: dict[str, Any]) -> str:
    seconds = plan.get("predicted_seconds")
    when = f"~{seconds / 60:.1f} min" if seconds else "time unknown for this device"
    return (
        f"plan: {plan['trainable_params']:,} trainable params, peak ~{plan['peak_memory_bytes'] / 2**30:.2f} GiB, "
        f"{plan['flops']:.3g} FLOPs, {when} (MFU {plan['mfu']:.0%}, {plan['mfu_source']})"
    )
