"""Terminal tables for `thrifty plan`."""

from typing import Any

from rich.console import Console
from rich.table import Table


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


LOSS_HEADS = {
    "chunked": "chunked (no tokens x vocab logits at once; Liger's fused kernel on CUDA when installed)",
    "plain": "plain (the model's own head: fp32 logits for every token and their gradient)",
}


def print_plan(plan: dict[str, Any], top: int = 12) -> None:
    console = Console(width=150)
    console.print(
        f"[bold]{plan['model']}[/] ({plan['architecture']}), method {plan['method']}: "
        f"{plan['trainable_params']:,} trainable of {plan['total_params']:,} "
        f"({plan['trainable_percent']:.3f}%)"
    )
    if plan.get("objective", {}).get("name", "sft") != "sft":
        console.print(objective_line(plan["objective"]))
    mem = Table(title=f"peak memory per device: {gib(plan['peak_memory_bytes'])}")
    mem.add_column("part")
    mem.add_column("bytes", justify="right")
    for part, value in plan["memory"].items():
        mem.add_row(part, gib(value))
    console.print(mem)
    if head := LOSS_HEADS.get(plan.get("loss_head")):
        console.print(f"loss head: {head}")
    console.print(
        f"compute: {plan['flops']:.3g} FLOPs for {plan['tokens']:,} tokens; MFU {plan['mfu']:.0%} "
        f"({plan['mfu_source']})"
    )
    if "cpu_seconds" in plan:
        console.print(f"this CPU: about {plan['cpu_seconds'] / 3600:.1f} h")
    console.print(options_table(plan["options"][:top]))
    if "fit" in plan:
        print_fit(console, plan["fit"])
    for key in ("owned", "roi"):
        if key in plan:
            console.print(f"{key}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in plan[key].items()))


def objective_line(o: dict[str, Any]) -> str:
    """What the objective counts, in one line under the title."""
    parts = [
        f"objective {o['name']}: {o['sequences_per_forward']} sequence(s) of {o['sequence_tokens']} tokens "
        f"per micro-batch slot, {o['trained_tokens']:,} tokens trained"
    ]
    if o["generated_tokens"]:
        parts.append(f"{o['generated_tokens']:,} generated")
    if o["reference_weights_bytes"]:
        parts.append(f"reference copy {gib(o['reference_weights_bytes'])}")
    if o["score_head"]:
        parts.append("score head (no vocab logits)")
    return ", ".join(parts)


def options_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="where to train (fits = peak memory under 90% of the GPU)")
    for column in ("gpu", "provider", "pricing", "fits", "time", "$", "$/h", ""):
        table.add_column(column, justify="right" if column in ("time", "$", "$/h") else "left")
    for r in rows:
        marks = " ".join(m for m in ("cheapest", "fastest") if r.get(m))
        gpu = f"{r['count']}x {r['gpu']}" if r["count"] > 1 else r["gpu"]
        table.add_row(
            gpu,
            r["provider"],
            r["pricing"],
            "yes" if r["fits"] else "no",
            duration(r["hours"]),
            f"{r['usd']:.3f}" if r["usd"] < 1 else f"{r['usd']:,.2f}",
            f"{r['usd_per_hour']:.2f}",
            marks,
        )
    return table


def duration(hours: float) -> str:
    if hours < 1 / 60:
        return f"{hours * 3600:.0f} s"
    return f"{hours * 60:.1f} min" if hours < 1 else f"{hours:.1f} h"


def print_fit(console: Console, fit: dict[str, Any]) -> None:
    if fit["fits"]:
        s = fit["settings"]
        console.print(
            f"fits {fit['gpu']}: micro-batch {s['micro_batch']} x accumulation {s['grad_accum']}, "
            f"gradient checkpointing {'on' if s['gradient_checkpointing'] else 'off'}, "
            f"quantization {s['quantization'] or 'none'}: {gib(s['peak_memory_bytes'])} of "
            f"{gib(fit['memory_bytes'])}"
        )
    else:
        console.print(f"[red]does not fit {fit['gpu']} ({gib(fit['memory_bytes'])})[/]; what would:")
        for line in fit["suggestions"]:
            console.print(f"  - {line}")


def print_calibration(rows: list[dict[str, Any]]) -> None:
    table = Table(title="planner vs measured, past runs")
    for column in (
        "run",
        "method",
        "device",
        "memory pred",
        "memory meas",
        "err",
        "time pred (s)",
        "time meas (s)",
        "err",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["run"],
            r["method"],
            r["device"],
            gib(r["predicted_peak_memory_bytes"]),
            gib(r["peak_memory_bytes"]),
            f"{r['memory_error']:+.0%}",
            f"{r['predicted_seconds']:.0f}",
            f"{r['wall_seconds']:.0f}",
            f"{r['time_error']:+.0%}",
        )
    Console(width=150).print(table if rows else "no past runs with predictions under this folder")


def _fmt(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)
