"""Automatic micro-batch size: the size with the most tokens/s that fits in memory.

The effective batch (micro-batch x gradient accumulation) is what the optimizer sees, so it is kept:
only its split changes, and with it speed and memory, not what is learned. Each candidate runs one
forward+backward on the longest examples (the worst case for memory); a size that runs out of memory,
or whose peak passes the limit, ends the search and the best size below it is used.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from thrifty.errors import UserError
from thrifty.hardware import current_memory_bytes, peak_memory_bytes, reset_peak_memory


@dataclass
class MicroBatchChoice:
    micro_batch_size: int
    gradient_accumulation_steps: int
    tried: list[dict[str, Any]] = field(default_factory=list)  # size, tokens_per_second | note

    def describe(self) -> str:
        parts = [
            f"{t['size']}: {t['tokens_per_second']:,.0f} tokens/s"
            if "tokens_per_second" in t
            else f"{t['size']}: {t['note']}"
            for t in self.tried
        ]
        effective = self.micro_batch_size * self.gradient_accumulation_steps
        return (
            f"auto micro-batch: {'; '.join(parts)} -> micro_batch_size={self.micro_batch_size}, "
            f"gradient_accumulation_steps={self.gradient_accumulation_steps} (effective batch {effective} kept)"
        )


def candidates(effective: int) -> list[int]:
    """Micro-batch sizes that split the effective batch exactly, smallest first."""
    return [size for size in range(1, effective + 1) if effective % size == 0]


# What a failed allocation says, lowercased. CUDA raises torch.OutOfMemoryError ("CUDA out of memory");
# torch 2.13's CPU allocator raises a plain RuntimeError: "[enforce fail at alloc_cpu.cpp:127] err == 0.
# DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes. Error code 12 (Cannot
# allocate memory)"; MPS says "MPS backend out of memory".
OUT_OF_MEMORY_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    message = str(exc).lower()
    return any(text in message for text in OUT_OF_MEMORY_MESSAGES)


def memory_limit_bytes(device: str, headroom: float = 0.9) -> int:
    """What a micro-batch may peak at: 90% of the GPU, or of the RAM in use plus RAM still available."""
    import torch

    if device == "cuda":
        return int(torch.cuda.get_device_properties(0).total_memory * headroom)
    try:
        meminfo = open("/proc/meminfo").read()
        available = (
            int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemAvailable")))
            * 1024
        )
    except (OSError, StopIteration):
        return sys.maxsize  # unknown: only real out-of-memory errors stop the search
    return int((current_memory_bytes() + available) * headroom)


def trial_step(model, batch: dict[str, Any]) -> None:
    """One forward+backward, gradients dropped: what a training micro-step costs."""
    model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)


def search_micro_batch(
    model,
    rows: list[dict[str, list[int]]],
    collate: Callable,
    effective: int,
    limit_bytes: int,
    step: Callable = trial_step,
) -> MicroBatchChoice:
    """Try each size on the longest rows (twice: the first run warms allocators up); keep the fastest."""
    longest = sorted(rows, key=lambda r: len(r["input_ids"]), reverse=True)
    tried: list[dict[str, Any]] = []
    best: tuple[float, int] | None = None
    was_training = model.training
    model.train()
    for size in candidates(effective):
        batch = collate(longest[:size])
        tokens = sum(len(r["input_ids"]) for r in longest[:size])
        try:
            reset_peak_memory()
            step(model, batch)
            start = time.perf_counter()
            step(model, batch)
            seconds = time.perf_counter() - start
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            model.zero_grad(set_to_none=True)
            _free_cuda_cache()
            tried.append({"size": size, "note": "out of memory"})
            break
        peak = peak_memory_bytes()
        if peak > limit_bytes:
            tried.append(
                {
                    "size": size,
                    "note": f"peak {peak / 2**30:.2f} GiB over the {limit_bytes / 2**30:.2f} GiB limit",
                }
            )
            break
        speed = tokens / max(seconds, 1e-9)
        tried.append({"size": size, "tokens_per_second": speed, "peak_bytes": peak})
        if best is None or speed > best[0]:
            best = (speed, size)
    model.train(was_training)
    if best is None:
        raise UserError(
            "train.auto_micro_batch: even a micro-batch of 1 does not fit in memory; turn on "
            "train.gradient_checkpointing, use method.name=qlora or a smaller model"
        )
    return MicroBatchChoice(best[1], effective // best[1], tried)


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
