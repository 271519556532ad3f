"""Training FLOPs and time, with a model-FLOPs-utilisation (MFU) calibrated from past runs."""

import json
import statistics
import time
from functools import cache
from pathlib import Path

import torch

from thrifty.paths import thrifty_home

# Share of peak dense FLOP/s that training reaches, before any run of the user's calibrates it.
# Typical published figures: full fine-tuning 35-50% MFU on A100/H100 (Megatron, torchtune), LoRA
# lower because small adapter matmuls and the frozen base waste cycles, QLoRA lower again (dequantize).
DEFAULT_MFU = {
    "full": 0.40,
    "scratch": 0.40,
    "ptuning": 0.30,
    "freeze": 0.35,
    "lora": 0.30,
    "dora": 0.20,
    "rslora": 0.30,
    "qlora": 0.20,
    "lora8bit": 0.15,
    "ia3": 0.30,
    "prefix": 0.30,
    "prompt": 0.30,
}
DEFAULT_CPU_MFU = 0.15


def train_flops(
    config,
    base_params: int,
    trainable: int,
    method: str,
    tokens: int,
    seq_len: int,
    gradient_checkpointing: bool,
) -> float:
    """FLOPs to train on `tokens`: 2N forward + 2N input-gradients + 2N weight-gradients (full) per token.

    With a frozen base the weight-gradient term only covers trainable parameters (LoRA paper).
    Attention adds 12*L*H*Q*T per token for forward + backward (nanoGPT's estimate_mfu).
    Gradient checkpointing re-runs the forward: +2N per token.
    """
    n = base_params
    from thrifty.methods.table import method_info

    weight_grads = 2 * n if method_info(method).trains_base == "all" else 2 * trainable
    per_token = 2 * n + 2 * n + weight_grads
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    per_token += 12 * config.num_hidden_layers * heads * head_dim * seq_len / 2  # causal: half the matrix
    if gradient_checkpointing:
        per_token += 2 * n
    return float(per_token * tokens)


def forward_flops(config, base_params: int, tokens: float, seq_len: int) -> float:
    """FLOPs of forward passes alone (no backward) over `tokens`: 2N per token plus the causal attention
    scores, 4*L*H*Q*T/2 per token (the forward third of train_flops' term)."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    per_token = 2 * base_params + 4 * config.num_hidden_layers * heads * head_dim * seq_len / 2
    return float(per_token * tokens)


# Square GEMM sizes and timed repetitions of each: one 1024^3 product best of 5 under-read the bf16
# peak (it read below fp32 on an avx512_bf16 EPYC); the best over sizes is closer to what the hardware
# sustains. 4096^3 is left out on CPUs: ~0.7 s per fp32 product here, for no higher reading.
GEMM_SIZES = (1024, 2048)
GEMM_REPS = 10
# Seconds of timed products per size. A CPU without bf16 instructions emulates bf16 at ~1 GFLOP/s (the
# AVX2-only EPYC: 2.7 s per 1024^3 product, ~22 s per 2048^3), where 10 reps of both sizes took minutes;
# a fast CPU does its 10 reps well inside it (fp32 2048^3: ~0.2 s each).
GEMM_BUDGET_S = 3.0


def measure_gemm_peak(
    dtype: torch.dtype,
    device: str = "cpu",
    sizes=GEMM_SIZES,
    reps: int = GEMM_REPS,
    budget_s: float = GEMM_BUDGET_S,
) -> float:
    """Best FLOP/s of up to `reps` timed n^3 matmuls per size in `sizes` (each size warmed up once),
    within `budget_s` seconds per size; a size whose warm-up predicts the next one will not fit ends it."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    best = 0.0
    for i, n in enumerate(sizes):
        a = torch.randn(n, n, dtype=dtype, device=device)
        b = torch.randn(n, n, dtype=dtype, device=device)
        start = time.perf_counter()
        torch.matmul(a, b)  # warm-up: kernel selection, first-touch of the output
        sync()
        warm_up = time.perf_counter() - start
        deadline = time.perf_counter() + budget_s
        for _ in range(reps):
            start = time.perf_counter()
            torch.matmul(a, b)
            sync()  # CUDA launches return at once: time the work, not the launch
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
            if time.perf_counter() > deadline:
                break
        bigger = sizes[i + 1] if i + 1 < len(sizes) else None
        if bigger and warm_up * (bigger / n) ** 3 > budget_s:
            break  # one product of the next size alone would take longer than its whole budget
    return best


@cache
def cpu_peak_flops(precision: str = "fp32") -> float:
    """This CPU's measured matmul peak (FLOP/s), cached on disk per precision and thread count."""
    cache_file = thrifty_home() / "cpu_peak.json"
    stored = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    # "v2": sizes 1024 and 2048, 10 reps; readings of the older one-size measurement are not reused.
    from thrifty.hardware import matmul_precision

    precision = matmul_precision(precision)
    key = f"{precision}-{torch.get_num_threads()}-v2"
    if key not in stored:
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        stored[key] = measure_gemm_peak(dtype)
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(stored))
    return stored[key]


def calibrated_mfu(method: str, device: str, runs_dir: str | Path = "runs") -> tuple[float, str]:
    """Median MFU of the user's own finished runs of `method` on `device`, else the default."""
    measured = [
        r["achieved_mfu"]
        for r in past_runs(runs_dir)
        if r.get("method") == method and r.get("device") == device and r.get("achieved_mfu")
    ]
    if measured:
        return statistics.median(measured), f"median of {len(measured)} past run(s)"
    default = DEFAULT_CPU_MFU if device == "cpu" else DEFAULT_MFU.get(method, 0.3)
    return default, "default"


def past_runs(runs_dir: str | Path = "runs") -> list[dict]:
    """summary.json of every finished run under `runs_dir` (one level deep)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for path in sorted(root.glob("*/summary.json")):
        try:
            out.append({"run": str(path.parent), **json.loads(path.read_text())})
        except (OSError, json.JSONDecodeError):
            continue
    return out
