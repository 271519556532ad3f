"""Dollars: every GPU x provider x pricing row that fits, ranked, with spot-interruption overhead."""

from typing import Any

from thrifty.hardware import matmul_precision
from thrifty.plan.catalog import gpus, prices

ELECTRICITY_USD_PER_KWH = 0.15  # owned-GPU running cost; override with --power-price


def gpu_seconds(flops: float, gpu: dict[str, Any], precision: str, mfu: float, count: int) -> float:
    precision = matmul_precision(precision)
    peak = gpu[f"{precision}_tflops"] * 1e12 if gpu.get(f"{precision}_tflops") else gpu["fp32_tflops"] * 1e12
    return flops / (peak * mfu * count)


def options(
    flops: float, precision: str, mfu: float, fits_on, price_file: str | None = None
) -> list[dict[str, Any]]:
    """Rows: gpu, provider, pricing, count, fits, hours, usd (spot overhead included), sorted by usd."""
    catalog = prices(price_file)
    restart_h = catalog.get("spot_restart_minutes", 5) / 60
    rows = []
    for row in catalog.get("prices", []):
        gpu = gpus().get(row["gpu"])
        if gpu is None:
            continue
        count = row.get("count", 1)
        hours = gpu_seconds(flops, gpu, precision, mfu, count) / 3600
        # Each interruption costs a restart plus, on average, half a checkpoint interval of lost work.
        interruptions = row.get("interruptions_per_hour", 0) * hours
        hours_with_restarts = hours + interruptions * restart_h
        rows.append(
            {
                "gpu": row["gpu"],
                "provider": row["provider"],
                "pricing": row["pricing"],
                "count": count,
                "fits": bool(fits_on(row["gpu"], count)),
                "hours": hours_with_restarts,
                "usd": hours_with_restarts * row["usd_per_hour"],
                "usd_per_hour": row["usd_per_hour"],
                "expected_interruptions": interruptions,
                "source": row.get("source"),
                "date": row.get("date"),
            }
        )
    rows.sort(key=lambda r: (not r["fits"], r["usd"]))
    fitting = [r for r in rows if r["fits"]]
    if fitting:
        min(fitting, key=lambda r: r["usd"])["cheapest"] = True
        min(fitting, key=lambda r: r["hours"])["fastest"] = True
    return rows


def owned_break_even(
    gpu_key: str, cloud_usd_per_hour: float, power_price: float = ELECTRICITY_USD_PER_KWH
) -> dict:
    """Hours of training after which buying `gpu_key` beats renting at `cloud_usd_per_hour`."""
    gpu = gpus()[gpu_key]
    power_usd_per_hour = gpu.get("tdp_watts", 300) / 1000 * power_price
    saving = cloud_usd_per_hour - power_usd_per_hour
    price = gpu.get("purchase_usd")
    hours = price / saving if price and saving > 0 else None
    return {
        "gpu": gpu_key,
        "purchase_usd": price,
        "power_usd_per_hour": power_usd_per_hour,
        "break_even_hours": hours,
    }


def roi(training_cost: float, improvement_percent: float, monthly_value: float, months: int = 12) -> dict:
    """The seeds' ROI framework: value gained over the deployment period against the training cost."""
    extra_monthly = monthly_value * improvement_percent / 100
    gained = extra_monthly * months
    return {
        "training_cost_usd": training_cost,
        "additional_monthly_value": extra_monthly,
        "roi_percent": (gained - training_cost) / training_cost * 100 if training_cost > 0 else float("inf"),
        "break_even_months": training_cost / extra_monthly if extra_monthly > 0 else None,
    }
