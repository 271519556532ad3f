"""bench/gpu_check.sh: the GPU check's CPU run, for real, and its bookkeeping when a check fails."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import gpu_check  # noqa: E402
from gpu_check_runs import Failed, Skip, last_error_line  # noqa: E402

# Checks that train on a CPU; the others are CUDA's own (a reason naming CUDA).
CPU_CHECKS = {"lora_bf16", "dora", "qlora_nf4", "adamw_8bit", "attention", "plan_vs_measured"}


def positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    """One real `bench/gpu_check.sh --device cpu` (~70-110 s on a 2-core CPU)."""
    out = tmp_path_factory.mktemp("gpu-check")
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("OUT", None)
    done = subprocess.run(
        [str(REPO / "bench" / "gpu_check.sh"), "--device", "cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=400,
    )
    return done, out


def test_cpu_run_reports_every_check(cpu_run):
    done, out = cpu_run
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["device"] == "cpu" and report["finished"] and report["exit_code"] == 0
    checks = {c["name"]: c for c in report["checks"]}
    assert list(checks) == [c.name for c in gpu_check.CHECKS]
    assert {name for name, c in checks.items() if c["status"] == "ok"} == CPU_CHECKS
    for name, check in checks.items():
        if name not in CPU_CHECKS:
            assert check["status"] == "skipped" and "CUDA" in check["reason"], check
    for name in CPU_CHECKS - {"plan_vs_measured"}:
        figures = checks[name]["figures"]
        for key in ("tokens_per_second", "peak_memory_bytes", "peak_ratio", "time_ratio"):
            assert positive(figures[key]), (name, key, figures[key])
    configs = checks["plan_vs_measured"]["figures"]["configs"]
    assert len(configs) == 3
    for config in configs:
        # `thrifty plan` and the run's own plan agree; exactly but for DoRA, whose planned activations
        # vary between identical calls (docs/gpu.md), by ~0.2% of the tiny model's plan.
        assert abs(config["plan_vs_run_plan"] - 1) < 0.02, config
        for key in (
            "peak_memory_bytes",
            "plan_peak_memory_bytes",
            "peak_ratio",
            "plan_seconds",
            "time_ratio",
        ):
            assert positive(config[key]), (config["config"], key, config[key])
    assert {c["architecture"] for c in configs} == {"llama", "qwen2"}


def test_cpu_run_markdown_has_a_row_per_check(cpu_run):
    _, out = cpu_run
    rows = [line for line in (out / "gpu_check.md").read_text().splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]  # after the header
    assert names == [c.name for c in gpu_check.CHECKS]
    assert all(row.count("|") == 5 for row in rows)
    assert (out / "logs").is_dir() and list((out / "runs").glob("*.summary.json"))


def test_a_failing_check_is_recorded_and_the_next_still_runs(tmp_path, monkeypatch):
    ran = []

    def broken(ctx):
        ran.append("broken")
        raise Failed("exit 1: RuntimeError: CUDA error: an illegal memory access was encountered")

    def crashing(ctx):
        ran.append("crashing")
        raise KeyError("tokens_per_second")  # a bug in a check is that check's failure

    def fine(ctx):
        ran.append("fine")
        return {"tokens_per_second": 12.5}

    def absent(ctx):
        raise Skip("liger_kernel not installed")

    monkeypatch.setattr(gpu_check, "environment", lambda: {"cuda": False})  # no probe subprocess
    monkeypatch.setattr(
        gpu_check,
        "CHECKS",
        [
            gpu_check.Check("broken", "fails", broken),
            gpu_check.Check("crashing", "has a bug", crashing),
            gpu_check.Check("fine", "works", fine),
            gpu_check.Check("absent", "cannot run", absent),
            gpu_check.Check("gpu_only", "needs a GPU", fine, cuda_only="needs CUDA"),
        ],
    )
    code = gpu_check.main(["--device", "cpu", "--out", str(tmp_path)])
    assert code == 1
    assert ran == ["broken", "crashing", "fine"]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    got = {c["name"]: (c["status"], c["reason"]) for c in report["checks"]}
    assert got == {
        "broken": ("failed", "exit 1: RuntimeError: CUDA error: an illegal memory access was encountered"),
        "crashing": ("failed", "KeyError: 'tokens_per_second'"),
        "fine": ("ok", None),
        "absent": ("skipped", "liger_kernel not installed"),
        "gpu_only": ("skipped", "needs CUDA"),
    }
    assert report["exit_code"] == 1 and report["counts"] == {"ok": 1, "failed": 2, "skipped": 2}
    assert not (tmp_path / "gpu_check.json.tmp").exists()
    assert "| broken | failed |" in (tmp_path / "gpu_check.md").read_text()


def test_only_skips_do_not_fail_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_check, "environment", lambda: {"cuda": False})
    monkeypatch.setattr(gpu_check, "CHECKS", [gpu_check.Check("gpu_only", "x", None, cuda_only="needs CUDA")])
    assert gpu_check.main(["--device", "cpu", "--out", str(tmp_path)]) == 0


def test_last_error_line_finds_the_error_not_the_report_hint():
    log = "\n".join(
        [
            "plan: 32,768 trainable params",
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            "internal error: OutOfMemoryError is a bug in thrifty, not in your input; please report it",
        ]
    )
    assert last_error_line(log).startswith("torch.OutOfMemoryError: CUDA out of memory")
    assert last_error_line("error: data file not found: x.jsonl\n") == "error: data file not found: x.jsonl"
    assert last_error_line("") == "(no output)"


# ----------------------------------------------------------------- the CUDA checks' logic, on canned runs


class CannedContext:
    """What a CUDA check sees of the Context, with each run's log made up: the checks' own decisions
    (did the search meet an out-of-memory, did compile or Liger really run) are tested without a GPU."""

    def __init__(self, tmp_path, logs: dict[str, str]):
        import gpu_check_runs

        self.device, self.sizes = "cuda", gpu_check_runs.CUDA_SIZES
        self.env = {"device_name": "NVIDIA H200"}
        self.tmp_path, self.logs, self.trained = tmp_path, logs, []

    def train(self, overrides, model="base", hooks=(), data="short"):
        from gpu_check_runs import Run

        key = (
            "oom"
            if data == "long"
            else "nolig"
            if hooks
            else "compile"
            if "train.compile=on" in overrides
            else "lora"
        )
        self.trained.append(key)
        summary = {"tokens_per_second": {"nolig": 900.0}.get(key, 1000.0), "peak_memory_bytes": 2**30}
        summary.update(micro_batch_size=2, gradient_accumulation_steps=32, wall_seconds=3.0)
        return Run(key, self.tmp_path / key, summary, self.logs.get(key, ""), 3.0, model, overrides)


SEARCH = "auto micro-batch: 1: 9,000 tokens/s; 2: 12,000 tokens/s; 4: out of memory -> micro_batch_size=2"


def test_micro_batch_oom_needs_a_real_out_of_memory(tmp_path):
    import gpu_check_checks as checks

    figures = checks.check_micro_batch_oom(CannedContext(tmp_path, {"oom": f"plan: ...\n{SEARCH}\n"}))
    assert figures["chosen"] == "2 x 32" and figures["tried"] == SEARCH and figures["peak_ratio"] is None
    no_oom = SEARCH.replace("4: out of memory", "4: peak 80.00 GiB over the 72.00 GiB limit")
    with pytest.raises(Failed, match="met no CUDA out-of-memory"):
        checks.check_micro_batch_oom(CannedContext(tmp_path, {"oom": no_oom}))


def test_compile_fails_when_it_fell_back_to_eager(tmp_path):
    import gpu_check_checks as checks

    ok = CannedContext(tmp_path, {"compile": "torch.compile: on (the first steps compile)\n"})
    assert checks.check_compile(ok)["vs"].startswith("compile off")
    failed = "torch.compile: on (the first steps compile)\nwarning: torch.compile failed (no C++ compiler); training without it\n"
    with pytest.raises(Failed, match="torch.compile failed"):
        checks.check_compile(CannedContext(tmp_path, {"compile": failed}))


def test_liger_must_be_applied_when_installed(tmp_path, monkeypatch):
    import importlib.util

    import gpu_check_checks as checks
    from gpu_check_runs import LIGER_MARK

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: object() if name == "liger_kernel" else find_spec(name)
    )
    ctx = CannedContext(tmp_path, {"lora": f"{LIGER_MARK}\n"})
    figures = checks.check_liger(ctx)
    assert ctx.trained == ["lora", "nolig"] and figures["liger_applied"] and figures["speedup"] == 1.111
    with pytest.raises(Failed, match="did not apply"):
        checks.check_liger(CannedContext(tmp_path, {}))


def test_gpu_plan_seconds_uses_the_catalog_gpu_of_the_device_name(tmp_path):
    import gpu_check_checks as checks

    plan = {"flops": 1e15, "precision": "bf16", "mfu": 0.15, "gpus": 1}
    seconds = checks.gpu_plan_seconds(plan, CannedContext(tmp_path, {}))
    assert 1 < seconds < 10  # 1e15 FLOPs at 15% of an H200's ~990 dense bf16 TFLOP/s: ~6.7 s
    unknown = CannedContext(tmp_path, {})
    unknown.env = {"device_name": "Some Future GPU"}
    assert checks.gpu_plan_seconds(plan, unknown) is None
