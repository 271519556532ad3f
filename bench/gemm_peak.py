"""GEMM peak per size and precision on this machine: what `plan.compute.measure_gemm_peak` reads.

Prints, for fp32 and bf16 and each square size n, the best and median FLOP/s of `--reps` timed n^3
matmuls (one warm-up each), then the peak thrifty's planner uses (best over its sizes). On CUDA the
timings synchronize. Usage: python bench/gemm_peak.py [--device cpu|cuda] [--sizes 1024 2048 4096]
"""

import argparse
import statistics
import time

import torch

from thrifty.plan.compute import GEMM_SIZES, measure_gemm_peak


def readings(dtype: torch.dtype, device: str, n: int, reps: int) -> list[float]:
    """FLOP/s of each of `reps` timed n^3 matmuls."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    torch.matmul(a, b)
    sync()
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        torch.matmul(a, b)
        sync()
        out.append(2 * n**3 / (time.perf_counter() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    print(f"device {args.device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for n in args.sizes:
            r = readings(dtype, args.device, n, args.reps)
            print(
                f"{name} {n:5d}^3: best {max(r) / 1e9:8.1f}  median {statistics.median(r) / 1e9:8.1f} GFLOP/s"
            )
        peak = measure_gemm_peak(dtype, args.device)
        print(f"{name} planner peak (sizes {GEMM_SIZES}): {peak / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
