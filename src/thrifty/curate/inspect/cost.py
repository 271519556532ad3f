"""One epoch over the training split, priced by the planner as `thrifty train` prices its own run
(plan_for_run: the same steps, tokens, FLOPs and calibrated MFU), on this machine and on --gpu."""

from dataclasses import dataclass
from typing import Any


@dataclass
class Lengths:
    """What plan_for_run reads of prepared data: tokens per training example (after truncation)."""

    values: list[int]

    def lengths(self) -> list[int]:
        return self.values


def epoch_cost(
    model_path: str, method: str, lengths: list[int], max_seq_len: int, gpu: str | None
) -> dict[str, Any]:
    """Tokens, FLOPs, minutes here and, with `gpu`, minutes and dollars on it (the cheapest price row
    of that GPU in the planner's catalog; spot rows include the planner's restart overhead)."""
    from thrifty.config.schema import DataConfig, MethodConfig, RunConfig
    from thrifty.hardware import device_name, resolve_precision
    from thrifty.plan.for_run import plan_for_run

    config = RunConfig(method=MethodConfig(name=method), data=DataConfig(max_seq_len=max_seq_len))
    config.train.epochs = 1.0
    device = device_name()
    precision = resolve_precision("auto", method)
    here = plan_for_run(config, model_path, Lengths(lengths), precision, device)
    seconds = here.get("predicted_seconds")
    out: dict[str, Any] = {
        "method": here["method"],
        "epochs": 1,
        "planned_tokens": here["tokens"],  # whole micro-batches of the mean example, as the planner counts
        "flops": here["flops"],
        "device": device,
        "precision": precision,
        "minutes_here": seconds / 60 if seconds else None,
        "mfu": here["mfu"],
        "mfu_source": here["mfu_source"],
        "peak_memory_bytes": here["peak_memory_bytes"],
    }
    if gpu:
        out["gpu"] = gpu_cost(config, model_path, lengths, gpu)
    return out


def gpu_cost(config, model_path: str, lengths: list[int], name: str) -> dict[str, Any]:
    """The plan on `name` in the precision `train.precision: auto` picks there (bf16, else fp16)."""
    from thrifty.plan.catalog import find_gpu
    from thrifty.plan.cost import gpu_seconds
    from thrifty.plan.for_run import plan_for_run
    from thrifty.plan.planner import HEADROOM

    gpu = find_gpu(name)
    precision = "bf16" if gpu.get("bf16_supported") else "fp16"
    plan = plan_for_run(config, model_path, Lengths(lengths), precision, "cuda")
    seconds = gpu_seconds(plan["flops"], gpu, precision, plan["mfu"], 1)
    rows = [o for o in plan["options"] if o["gpu"] == gpu["key"]]
    best = min(rows, key=lambda o: o["usd"], default=None)
    out = {
        "gpu": gpu["key"],
        "name": gpu["name"],
        "precision": precision,
        "minutes": seconds / 60,
        "fits": plan["peak_memory_bytes"] <= HEADROOM * gpu["memory_gib"] * 2**30,  # the planner's rule
        "peak_memory_bytes": plan["peak_memory_bytes"],
        "usd": None,
    }
    if best is not None:
        out.update(
            usd=best["usd"],
            hours_billed=best["hours"],
            provider=best["provider"],
            pricing=best["pricing"],
            count=best["count"],
            usd_per_hour=best["usd_per_hour"],
        )
    return out
