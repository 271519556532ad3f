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


def resolve_precision(requested: str) -> str:
    """auto -> the fastest precision this hardware trains well in; refuses what it cannot do."""
    device = device_name()
    if requested == "auto":
        if device == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        # On CPUs, bf16 autocast measured slower than fp32 for all-linear LoRA on SmolLM2-135M
        # (82 vs 109 tokens/s, 2-core EPYC with avx512_bf16, 10 steps each, same run): the casts
        # around every small adapter matmul cost more than bf16 GEMMs save. Ask for bf16 explicitly.
        return "fp32"
    if requested == "fp16" and device != "cuda":
        raise UserError(f"train.precision=fp16 needs a CUDA GPU (this machine: {device}); use bf16 or fp32")
    return requested


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
