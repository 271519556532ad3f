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
    tokens = int(steps * per_step * sum(lengths) / len(lengths))
    from thrifty.plan.objective import PAIRED_LENGTHS

    # A pair's length sums its chosen and rejected sequences; the planner takes one sequence's length
    # and counts the objective's sequences per example itself.
    seq_len = math.ceil(max(lengths) / (2 if t.objective in PAIRED_LENGTHS else 1))
    request = PlanRequest(
        model=model_path,
        method=config.method,
        seq_len=seq_len,
        objective=t.objective,
        precompute_ref_logps=t.precompute_ref_logps,
        micro_batch=t.micro_batch_size,
        grad_accum=t.gradient_accumulation_steps,
        tokens=tokens,
        precision=precision,
        gradient_checkpointing=t.gradient_checkpointing,
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
