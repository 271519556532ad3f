"""The CPU GEMM peak measurement is bounded in time: a CPU that emulates bf16 (~1 GFLOP/s) must not
spend minutes on it (10 reps of 1024^3 and 2048^3 took 5 minutes on the AVX2-only EPYC)."""

import time

import torch

from thrifty.plan import compute


def test_a_slow_matmul_stops_at_the_budget_and_skips_bigger_sizes(monkeypatch):
    sizes_seen = []
    real = torch.matmul

    def slow(a, b):
        sizes_seen.append(a.shape[0])
        time.sleep(0.05)  # 50 ms per product: a 4x-bigger size would take 3.2 s, over the budget
        return real(a, b)

    monkeypatch.setattr(compute.torch, "matmul", slow)
    start = time.perf_counter()
    peak = compute.measure_gemm_peak(torch.float32, sizes=(8, 32), reps=10, budget_s=0.12)
    assert time.perf_counter() - start < 1.0
    assert 32 not in sizes_seen  # predicted from the warm-up: 0.05 s x 4^3 > 0.12 s
    assert 2 <= len(sizes_seen) <= 5  # warm-up plus the reps that fit in 0.12 s, not all 10
    assert 0 < peak <= 2 * 8**3 / 0.05


def test_a_fast_matmul_takes_every_size_and_rep(monkeypatch):
    sizes_seen = []
    real = torch.matmul

    def counted(a, b):
        sizes_seen.append(a.shape[0])
        return real(a, b)

    monkeypatch.setattr(compute.torch, "matmul", counted)
    compute.measure_gemm_peak(torch.float32, sizes=(8, 16), reps=4, budget_s=5.0)
    assert sizes_seen == [8] * 5 + [16] * 5
