"""Launched 2-process runs of the tiny model on CPU (gloo on loopback), and the 1-process run with the
same global batch they must reproduce."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAQ
from thrifty.cli import main

HOOK = Path(__file__).with_name("hook")
ROOT = Path(__file__).parents[2]
STEPS = 6  # 24 examples / global batch 4: exactly one epoch, so no step straddles an epoch's end


@pytest.fixture(scope="session")
def data_files(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("ddp-data")
    train, held_out = folder / "train.jsonl", folder / "eval.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 6))
    held_out.write_text("".join(json.dumps(r) + "\n" for r in FAQ))
    return train, held_out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_args(model: Path, data: tuple[Path, Path], out: Path, nproc: int, *extra: str) -> list[str]:
    """Global batch 4 for any process count: micro-batch 2 x (2 // nproc accumulation) x nproc."""
    train, held_out = data
    args = ["train", "--model", str(model), "--data", str(train), "--eval-data", str(held_out)]
    args += ["--output", str(out), "--max-steps", str(STEPS), "--no-progress", "data.max_seq_len=128"]
    args += ["train.micro_batch_size=2", "train.global_batch_size=4", "train.logging_steps=1"]
    args += ["train.learning_rate=1e-2", "method.dropout=0"]  # dropout masks differ between 1 and 2 streams
    if nproc > 1:
        args += ["--nproc", str(nproc), "--master-port", str(free_port())]
    return args + list(extra)


def run_job(
    args: list[str], signal_at: str | None = None, timeout: float = 480
) -> subprocess.CompletedProcess:
    """`thrifty train` in a fresh process; `signal_at` = STEP:SIGNAL:TARGET (see hook/sitecustomize.py).
    The timeout leaves room for DeepSpeed's first use on a fresh machine (it JIT-builds an op, ~70 s)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HOOK), str(ROOT), *sys.path])}
    env.pop("THRIFTY_TEST_SIGNAL", None)
    if signal_at:
        env["THRIFTY_TEST_SIGNAL"] = signal_at
    command = [sys.executable, "-m", "thrifty", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def one_process(tiny_model, data_files, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one-process") / "run"
    assert main(job_args(tiny_model, data_files, out, 1)) == 0
    return out


class TwoProcessRuns(dict):
    """Uninterrupted 2-process runs, one per strategy, made on first use: what every interrupted one
    must reproduce."""

    def __init__(self, model: Path, data: tuple[Path, Path], root: Path):
        super().__init__()
        self.model, self.data, self.root = model, data, root

    def __missing__(self, strategy: str) -> Path:
        out = self.root / strategy / "run"
        done = run_job(job_args(self.model, self.data, out, 2, f"distributed.strategy={strategy}"))
        assert done.returncode == 0, done.stderr[-3000:]
        self[strategy] = out
        return out


@pytest.fixture(scope="session")
def two_processes(tiny_model, data_files, tmp_path_factory) -> TwoProcessRuns:
    return TwoProcessRuns(tiny_model, data_files, tmp_path_factory.mktemp("two-processes"))
