"""The checks of bench/gpu_check.py: each takes the Context, runs what it needs through it, and returns
its figures, or raises Skip (cannot run here) or Failed (ran and failed, with what it measured)."""

import json
import math
import statistics
import sys
from typing import Any

from gpu_check_runs import (
    CATALOG_MODEL,
    QUANT_MARK,
    REPO,
    Context,
    Failed,
    Run,
    Skip,
    last_error_line,
    ratio,
    run_figures,
)

LORA_BF16 = ("method.name=lora", "train.precision=bf16")


def precision_of(ctx: Context) -> tuple[str, ...]:
    return (f"train.precision={ctx.sizes.precision}",)


def check_lora_bf16(ctx: Context) -> dict[str, Any]:
    return run_figures(ctx.train(LORA_BF16), ctx.device)


DORA = ("method.name=dora",)


def check_dora(ctx: Context) -> dict[str, Any]:
    """On the catalog architecture (biases, a 150k vocabulary on CUDA): plan_vs_measured reuses it."""
    return run_figures(ctx.train((*DORA, *precision_of(ctx)), model="catalog"), ctx.device)


QLORA = ("method.name=qlora",)


def check_qlora(ctx: Context) -> dict[str, Any]:
    run = ctx.train((*QLORA, *precision_of(ctx)))
    figures = run_figures(run, ctx.device)
    marks = [line for line in run.log.splitlines() if line.startswith(QUANT_MARK)]
    figures["quantization"] = marks[-1].removeprefix(QUANT_MARK).strip() if marks else None
    if (
        not marks
        or "load_in_4bit=True" not in marks[-1]
        or "quant_type=nf4 double_quant=True" not in marks[-1]
    ):
        raise Failed(f"the run did not load an NF4 double-quantized base: {figures['quantization']}", figures)
    return figures


def check_adamw_8bit(ctx: Context) -> dict[str, Any]:
    return run_figures(ctx.train(("train.optimizer=adamw_bnb_8bit", *precision_of(ctx))), ctx.device)


def check_paged_adamw_8bit(ctx: Context) -> dict[str, Any]:
    return run_figures(ctx.train(("train.optimizer=paged_adamw_8bit", *precision_of(ctx))), ctx.device)


def speedup(new: Run, old: Run) -> float | None:
    return ratio(new.summary.get("tokens_per_second"), old.summary.get("tokens_per_second"))


def check_attention(ctx: Context) -> dict[str, Any]:
    sdpa = ctx.train(LORA_BF16)
    eager = ctx.train((*LORA_BF16, "model.attn_implementation=eager"))
    figures = run_figures(eager, ctx.device)
    figures.update(vs=f"sdpa {sdpa.label}", speedup=speedup(eager, sdpa))
    figures["note"] = "flash-attn is not a thrifty option (model.attn_implementation: sdpa | eager)"
    return figures


def check_liger(ctx: Context) -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("liger_kernel") is None:
        raise Skip("liger_kernel not installed (pip install liger-kernel)")
    on = ctx.train(LORA_BF16)
    off = ctx.train(LORA_BF16, hooks=("--no-liger",))
    figures = run_figures(on, ctx.device)
    figures.update(vs=f"no liger {off.label}", speedup=speedup(on, off))
    figures["peak_saving"] = ratio(off.summary.get("peak_memory_bytes"), on.summary.get("peak_memory_bytes"))
    if not figures["liger_applied"]:
        raise Failed("liger_kernel is installed but the CUDA run did not apply its kernels", figures)
    return figures


def check_compile(ctx: Context) -> dict[str, Any]:
    eager = ctx.train(LORA_BF16)
    compiled = ctx.train((*LORA_BF16, "train.compile=on"))
    figures = run_figures(compiled, ctx.device)
    steady = (figures["steady_tokens_per_second"], run_figures(eager, ctx.device)["steady_tokens_per_second"])
    figures.update(vs=f"compile off {eager.label}", speedup=ratio(*steady))
    if "torch.compile: on" not in compiled.log or "torch.compile failed" in compiled.log:
        raise Failed(last_error_line(compiled.log), figures)
    return figures


def check_micro_batch_oom(ctx: Context) -> dict[str, Any]:
    s = ctx.sizes
    overrides = (*LORA_BF16, "train.auto_micro_batch=on", f"train.micro_batch_size={s.oom_effective}")
    overrides += (f"data.max_seq_len={s.oom_seq_len}", "train.max_steps=2")
    run = ctx.train(overrides, hooks=("--memory-gib", str(s.oom_cap_gib)), data="long")
    lines = [line for line in run.log.splitlines() if line.startswith("auto micro-batch:")]
    figures = run_figures(run, ctx.device)
    # The run's own plan is made before the search, for the configured micro-batch: no ratio to show.
    for key in ("predicted_peak_memory_bytes", "peak_ratio", "predicted_seconds", "time_ratio"):
        figures[key] = None
    figures.update(tried=lines[-1] if lines else None, note=f"CUDA memory capped at {s.oom_cap_gib} GiB")
    figures["chosen"] = f"{run.summary['micro_batch_size']} x {run.summary['gradient_accumulation_steps']}"
    if not lines or "out of memory" not in lines[-1]:
        raise Failed(
            "the search met no CUDA out-of-memory: " + (lines[-1] if lines else "no search line"), figures
        )
    return figures


def plan_configs(ctx: Context) -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, model kind, overrides): the first three are lora_bf16's, qlora_nf4's and dora's runs
    again. A CPU run plans those only (each further run costs ~15 s of a test suite on 2 cores)."""
    full = ("method.name=full", "train.gradient_checkpointing=true", *precision_of(ctx))
    rows = [
        ("base lora bf16", "base", LORA_BF16),
        ("base qlora", "base", (*QLORA, *precision_of(ctx))),
        (f"{CATALOG_MODEL} dora", "catalog", (*DORA, *precision_of(ctx))),
        (f"{CATALOG_MODEL} full ckpt", "catalog", full),
    ]
    return rows if ctx.device == "cuda" else rows[:3]


def check_plan_vs_measured(ctx: Context) -> dict[str, Any]:
    trained: dict[str, Run | Failed] = {}
    for label, model, overrides in plan_configs(ctx):
        try:
            trained[label] = ctx.train(overrides, model=model)
        except Failed as exc:
            trained[label] = exc
    ran = [label for label, run in trained.items() if isinstance(run, Run)]
    planned = dict(zip(ran, ctx.plans([trained[label] for label in ran]) if ran else [], strict=True))
    configs, failures = [], []
    for label, run in trained.items():
        try:
            if isinstance(run, Failed):
                raise run
            if isinstance(planned[label], Failed):
                raise planned[label]
            configs.append({"config": label, **plan_row(ctx, run, planned[label])})
        except Failed as exc:
            configs.append({"config": label, "error": str(exc)})
            failures.append(f"{label}: {exc}")
    figures = {"configs": configs}
    if failures:
        raise Failed("; ".join(failures), figures)
    return figures


def plan_row(ctx: Context, run: Run, plan: dict[str, Any]) -> dict[str, Any]:
    measured = run_figures(run, ctx.device)
    seconds = plan.get("cpu_seconds") if ctx.device == "cpu" else gpu_plan_seconds(plan, ctx)
    row = {
        "run": run.label,
        "model": run.summary["model"],
        "architecture": plan.get("architecture"),
        "plan_peak_memory_bytes": plan["peak_memory_bytes"],
        "run_plan_peak_memory_bytes": measured["predicted_peak_memory_bytes"],
        # The CLI's plan over the run's own: 1.0 but for the planner's DoRA activations, which differ
        # between identical calls (docs/gpu.md).
        "plan_vs_run_plan": ratio(plan["peak_memory_bytes"], measured["predicted_peak_memory_bytes"]),
        "peak_memory_bytes": measured["peak_memory_bytes"],
        "peak_ratio": ratio(measured["peak_memory_bytes"], plan["peak_memory_bytes"]),
        "plan_seconds": seconds,
        "train_seconds": measured["train_seconds"],
        "time_ratio": ratio(measured["train_seconds"], seconds),
    }
    for key in ("peak_ratio", "time_ratio"):
        if not (row[key] and math.isfinite(row[key]) and row[key] > 0):
            raise Failed(f"{key} is {row[key]} (measured or predicted figure missing)")
    return row


def gpu_plan_seconds(plan: dict[str, Any], ctx: Context) -> float | None:
    """The plan's seconds on this GPU, as a run's own plan computes them (thrifty.plan.for_run): the
    catalog GPU whose name or alias the device's name contains; None for a GPU not in the catalog."""
    from thrifty.plan.catalog import gpus
    from thrifty.plan.cost import gpu_seconds

    name = (ctx.env.get("device_name") or "").lower()
    for key, gpu in gpus().items():
        if any(alias.lower() in name for alias in [key, *(gpu.get("aliases") or [])]):
            return gpu_seconds(plan["flops"], gpu, plan["precision"], plan["mfu"], plan["gpus"])
    return None


def check_throughput(ctx: Context) -> dict[str, Any]:
    target = ctx.out / "throughput.json"
    argv = [sys.executable, str(REPO / "bench" / "train_throughput.py"), "--device", ctx.device, "--quick"]
    code, log, _ = ctx.command("throughput", [*argv, "--json", str(target)], timeout=360)
    if code != 0:
        raise Failed(f"exit {code}: {last_error_line(log)}")
    records = json.loads(target.read_text())["records"]
    speed = {
        w: statistics.median(r["tokens_per_second"] for r in records if r["way"] == w)
        for w in ("baseline", "trl", "thrifty")
    }
    peak = {w: max(r["peak_memory_bytes"] for r in records if r["way"] == w) for w in speed}
    return {
        "tokens_per_second": speed["thrifty"],
        "ways_tokens_per_second": speed,
        "ways_peak_memory_bytes": peak,
        "ratios": f"thrifty/baseline {speed['thrifty'] / speed['baseline']:.2f}, thrifty/trl {speed['thrifty'] / speed['trl']:.2f}",
    }
