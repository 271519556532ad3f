"""Automatic micro-batch size: the size with the most tokens/s that fits in memory.

The effective batch (micro-batch x gradient accumulation) is what the optimizer sees, so it is kept:
only its split changes, and with it speed and memory, not what is learned. Each candidate runs one
forward+backward on the longest examples (the worst case for memory); a size that runs out of memory,
or whose peak passes the limit, ends the search and the best size below it is used.

Everything that depends on the device (where the model and batches go, how memory is read and
limited, the autocast of the training precision, the clock, emptying the cache) is one `DeviceProbe`,
so a CPU test with a fake probe runs the very code the CUDA search runs.
"""

import contextlib
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from thrifty.errors import UserError
from thrifty.hardware import current_memory_bytes, peak_memory_bytes, reset_peak_memory

# Share of the memory this process may use that a micro-batch may peak at: the rest is for what a
# trial step does not show (optimizer states created at the first real step, allocator fragmentation).
HEADROOM = 0.9


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


@dataclass
class DeviceProbe:
    """The device-dependent parts of the search. `limit_bytes` is read once, after the model is placed
    and the cache emptied; `peak_bytes` is the peak since `reset_peak`; `clock` is seconds that count
    finished work (CUDA runs asynchronously: it synchronizes first)."""

    device: Any  # torch.device (or its name) the model and batches are put on
    limit_bytes: Callable[[], int]
    reset_peak: Callable[[], None]
    peak_bytes: Callable[[], int]
    autocast: Callable[[], AbstractContextManager]  # around the forward, as the Trainer does
    empty_cache: Callable[[], None]
    clock: Callable[[], float] = time.perf_counter


def autocast_for(device_type: str, precision: str) -> Callable[[], AbstractContextManager]:
    """The forward's autocast in the training precision: what accelerate wraps the Trainer's model in
    for bf16/fp16 (fp16's loss scaling changes no memory, and a trial step's gradients are dropped)."""
    import torch

    dtype = {"bf16": torch.bfloat16, "bf16-base": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device_type, dtype=dtype)


def cuda_probe(precision: str, headroom: float = HEADROOM) -> DeviceProbe:
    """CUDA device 0: the one HF Trainer trains on (a sweep worker sees only its own GPU)."""
    import torch

    device = torch.device("cuda", 0)

    def limit() -> int:  # free, not total: another process (a second sweep worker) may hold some
        free, _total = torch.cuda.mem_get_info(device)
        return int((torch.cuda.memory_allocated(device) + free) * headroom)

    def clock() -> float:
        torch.cuda.synchronize(device)
        return time.perf_counter()

    return DeviceProbe(
        device=device,
        limit_bytes=limit,
        reset_peak=lambda: torch.cuda.reset_peak_memory_stats(device),
        peak_bytes=lambda: int(torch.cuda.max_memory_allocated(device)),
        autocast=autocast_for("cuda", precision),
        empty_cache=torch.cuda.empty_cache,
        clock=clock,
    )


def cpu_probe(precision: str, headroom: float = HEADROOM) -> DeviceProbe:
    """RAM: the resident peak (VmHWM) against the RAM in use plus RAM still available. The hardware
    readers read RAM here: the device is only "cpu" on a machine without CUDA."""
    return DeviceProbe(
        device="cpu",
        limit_bytes=lambda: ram_limit_bytes(headroom),
        reset_peak=reset_peak_memory,
        peak_bytes=peak_memory_bytes,
        autocast=autocast_for("cpu", precision),
        empty_cache=lambda: None,
    )


def mps_probe(precision: str, headroom: float = HEADROOM) -> DeviceProbe:
    """Apple GPUs keep no peak statistic: the memory the driver holds after the step is read instead
    (a lower bound of the peak), against the working set Metal recommends."""
    import torch

    def clock() -> float:
        torch.mps.synchronize()
        return time.perf_counter()

    return DeviceProbe(
        device="mps",
        limit_bytes=lambda: int(torch.mps.recommended_max_memory() * headroom),
        reset_peak=lambda: None,
        peak_bytes=lambda: int(torch.mps.driver_allocated_memory()),
        autocast=autocast_for("mps", precision),
        empty_cache=torch.mps.empty_cache,
        clock=clock,
    )


# device name (thrifty.hardware.device_name) -> its probe; tests swap in a fake for "cuda".
PROBES: dict[str, Callable[[str], DeviceProbe]] = {"cuda": cuda_probe, "cpu": cpu_probe, "mps": mps_probe}


def device_probe(device: str, precision: str) -> DeviceProbe:
    return PROBES[device](precision)


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


def ram_limit_bytes(headroom: float = HEADROOM) -> int:
    """What a micro-batch may peak at on the CPU: `headroom` of the RAM this process holds now plus the
    RAM still available."""
    try:
        meminfo = open("/proc/meminfo").read()
        available = (
            int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemAvailable")))
            * 1024
        )
    except (OSError, StopIteration):
        return sys.maxsize  # unknown: only real out-of-memory errors stop the search
    return int((current_memory_bytes() + available) * headroom)


def place_model(model, device) -> None:
    """Put the model where HF Trainer will (transformers 5.x, Trainer.__init__: place_model_on_device and
    _move_model_to_device): a model loaded with a device_map (4/8-bit bases load with {"": device}) or
    quantized by bitsandbytes (no `.to`) stays where it is; any other goes to the training device."""
    from transformers.utils.quantization_config import QuantizationMethod

    if getattr(model, "hf_device_map", None) is not None:
        return
    if getattr(model, "quantization_method", None) == QuantizationMethod.BITS_AND_BYTES:
        return
    model.to(device)


def to_device(batch: Any, device) -> Any:
    """The batch's tensors on `device`, as the Trainer's _prepare_inputs puts them."""
    if isinstance(batch, dict):
        return {key: to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(value, device) for value in batch)
    return batch.to(device) if hasattr(batch, "to") else batch


def trial_step(model, batch: dict[str, Any], probe: DeviceProbe) -> None:
    """One forward (under the training precision's autocast) + backward, gradients dropped: what a
    training micro-step costs."""
    with probe.autocast():
        loss = model(**batch).loss
    loss.backward()
    model.zero_grad(set_to_none=True)


def measure(model, batch, probe: DeviceProbe, step: Callable) -> tuple[float, int] | None:
    """(seconds of one step, peak bytes), the first run warming allocators up; None when the device ran
    out of memory. The error is dropped on return: its traceback's frames hold the step's activations,
    which must be gone before the caller empties the cache."""
    try:
        probe.reset_peak()
        step(model, batch, probe)
        start = probe.clock()
        step(model, batch, probe)
        return probe.clock() - start, probe.peak_bytes()
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise  # a device mismatch or a bug is not a size that does not fit
    return None


def search_micro_batch(
    model,
    rows: list[dict[str, list[int]]],
    collate: Callable,
    effective: int,
    probe: DeviceProbe,
    step: Callable = trial_step,
) -> MicroBatchChoice:
    """Try each size on the longest rows on the probe's device (the model already placed there); keep
    the fastest."""
    longest = sorted(rows, key=lambda r: len(r["input_ids"]), reverse=True)
    tried: list[dict[str, Any]] = []
    best: tuple[float, int] | None = None
    was_training = model.training
    model.train()
    probe.empty_cache()
    limit = probe.limit_bytes()
    for size in candidates(effective):
        batch = to_device(collate(longest[:size]), probe.device)
        tokens = sum(len(r["input_ids"]) for r in longest[:size])
        measured = measure(model, batch, probe, step)
        del batch
        if measured is None:
            tried.append({"size": size, "note": "out of memory"})
            break
        seconds, peak = measured
        if peak > limit:
            tried.append(
                {"size": size, "note": f"peak {peak / 2**30:.2f} GiB over the {limit / 2**30:.2f} GiB limit"}
            )
            break
        speed = tokens / max(seconds, 1e-9)
        tried.append({"size": size, "tokens_per_second": speed, "peak_bytes": peak})
        if best is None or speed > best[0]:
            best = (speed, size)
    model.zero_grad(set_to_none=True)  # a failed step may have left some
    probe.empty_cache()  # training starts from an empty cache, not the largest trial's
    probe.reset_peak()  # the run reports training's peak, not the size that did not fit
    model.train(was_training)
    if best is None:
        raise UserError(
            "train.auto_micro_batch: even a micro-batch of 1 does not fit in memory; turn on "
            "train.gradient_checkpointing, use method.name=qlora or a smaller model"
        )
    return MicroBatchChoice(best[1], effective // best[1], tried)
