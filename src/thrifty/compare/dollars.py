"""What a finished run would have cost on a chosen GPU: its measured FLOPs at the planner's MFU and
the cheapest listed price for that GPU."""

from typing import Any

from thrifty.plan.catalog import find_gpu, prices
from thrifty.plan.compute import DEFAULT_MFU
from thrifty.plan.cost import gpu_seconds


def gpu_price(gpu: str) -> float:
    """Cheapest listed $/h for one `gpu` (any provider, any pricing)."""
    key = find_gpu(gpu)["key"]
    rows = [r["usd_per_hour"] / r.get("count", 1) for r in prices().get("prices", []) if r["gpu"] == key]
    if not rows:
        from thrifty.errors import UserError

        raise UserError(f"no price listed for GPU {gpu}; add one with --prices or THRIFTY_PRICES")
    return min(rows)


def run_dollars(summary: dict[str, Any], method: str, gpu: str) -> dict[str, float]:
    """Hours and dollars the run's actual tokens would take on `gpu` (bf16 peak, default MFU)."""
    spec = find_gpu(gpu)
    # The plan's FLOPs were for the planned tokens; scale to the tokens the run really trained on.
    flops = summary["predicted_flops"] * summary["train_tokens"] / max(summary["predicted_tokens"], 1)
    hours = gpu_seconds(flops, spec, "bf16", DEFAULT_MFU.get(method, 0.3), 1) / 3600
    return {"gpu_hours": hours, "usd": hours * gpu_price(gpu)}
