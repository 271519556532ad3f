"""What this machine can do: device, and which compute precision to use."""

import os
import re
import sys
from pathlib import Path

import torch

from thrifty.errors import UserError


def device_name() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def cpu_flags() -> set[str]:
    """The instruction-set flags Linux reports for this CPU (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def cpu_has_bf16() -> bool:
    """bf16 matmul instructions: AVX512-BF16 (Zen 4, Cooper Lake) or AMX (Sapphire Rapids on).
    THRIFTY_CPU_BF16=0 (or 1) overrides the flags: what `precision: auto` picks then does not depend on
    the CPU (the test suite sets 0, so it behaves alike on every CPU kind)."""
    override = os.environ.get("THRIFTY_CPU_BF16")
    if override in ("0", "1"):
        return override == "1"
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def freezes_base(method: str) -> bool:
    """The method trains only its own added weights over a base it never changes, loaded unquantized."""
    from thrifty.methods.table import method_info

    info = method_info(method)
    return info.trains_base == "none" and info.adapter and not info.quantization


def resolve_precision(requested: str, method: str | None = None) -> str:
    """auto -> the fastest precision this hardware trains well in; refuses what it cannot do.
    `method` (a method name) decides whether bf16-base applies; None: as for a method that does not."""
    device = device_name()
    base_ok = method is not None and freezes_base(method)
    if requested == "bf16-base" and method is not None and not base_ok:
        raise UserError(
            f"train.precision=bf16-base keeps only a frozen base in bf16, and method {method} trains or "
            "quantizes the base; use bf16 (mixed precision) or fp32"
        )
    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        # On CPUs bf16 *autocast* over fp32 weights measured slower than fp32 for all-linear LoRA on
        # SmolLM2-135M (82 vs 109 tokens/s, 2-core EPYC with avx512_bf16): the casts around every small
        # adapter matmul cost more than bf16 GEMMs save. A base stored in bf16, with peft's input casts
        # off, has none: 272.5 vs 200.2 tokens/s (1.36x), held-out loss +0.16%, on the 2-core AMX Xeon
        # (bench/precision_cpu.py, docs/performance.md). Not re-measured on an avx512_bf16-only CPU.
        if base_ok and device == "cpu" and cpu_has_bf16():
            return "bf16-base"
        return "fp32"
    if requested == "fp16" and device != "cuda":
        raise UserError(f"train.precision=fp16 needs a CUDA GPU (this machine: {device}); use bf16 or fp32")
    return requested


def matmul_precision(precision: str) -> str:
    """The precision the big matmuls run in (the GEMM peak to compare against): bf16-base's are bf16."""
    return "bf16" if precision == "bf16-base" else precision


def reset_peak_memory() -> None:
    """Start a new peak for this run: CUDA's allocator statistics, or Linux's VmHWM (clear_refs 5),
    so several runs in one process (thrifty compare, sweeps) each report their own peak."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # not Linux, or not permitted: the peak then counts from process start


def peak_memory_bytes() -> int:
    """Peak accelerator memory on CUDA, else the peak resident memory since the last reset (bytes)."""
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    status = Path("/proc/self/status")
    match = re.search(r"VmHWM:\s+(\d+) kB", status.read_text()) if status.is_file() else None
    if match:
        return int(match.group(1)) * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def current_memory_bytes() -> int:
    """Memory in use now: CUDA allocations, or resident memory on Linux (0 where unknown)."""
    if torch.cuda.is_available():
        return int(torch.cuda.memory_allocated())
    statm = Path("/proc/self/statm")
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") if statm.is_file() else 0
