"""Helpers for the resume tests: the training command, a run that signals itself, and run comparison."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAQ
from thrifty.cli import main

KILL_AT = Path(__file__).with_name("kill_at.py")
STEPS = 10
# Plain: a checkpoint every 3 steps, a log line every step. Accumulating: 2 micro-batches per step and a
# log line every 2 steps, so checkpoints at odd steps carry a half-accumulated loss over the resume.
PLAIN = ["train.logging_steps=1", "checkpoint.every_steps=3"]
ACCUMULATING = [
    "train.logging_steps=2",
    "checkpoint.every_steps=3",
    "train.gradient_accumulation_steps=2",
    "train.micro_batch_size=2",
]


@pytest.fixture(scope="session")
def faq_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 5))
    return path


def train_args(tiny_model, data, out, extra, steps: int = STEPS) -> list[str]:
    return [
        "train",
        "--model",
        str(tiny_model),
        "--data",
        str(data),
        "--output",
        str(out),
        f"train.max_steps={steps}",
        "--no-progress",
        "data.max_seq_len=128",
        "train.micro_batch_size=4",
        *extra,
    ]


def signal_at(step: int, signal: str, where: str, args: list[str]) -> subprocess.CompletedProcess:
    """Run `thrifty train` in a fresh process that signals itself at `step` (see kill_at.py)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(KILL_AT), str(step), signal, where, "--", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)


def assert_same_run(reference: Path, resumed: Path) -> None:
    """Bitwise-equal adapter tensors; identical metrics.jsonl apart from the measured speed."""
    from safetensors.torch import load_file

    expected = load_file(reference / "adapter" / "adapter_model.safetensors")
    got = load_file(resumed / "adapter" / "adapter_model.safetensors")
    assert expected.keys() == got.keys()
    for name, tensor in expected.items():
        assert tensor.dtype == got[name].dtype and tensor.shape == got[name].shape
        assert (
            tensor.view(-1).view(dtype=_int_of(tensor)).equal(got[name].view(-1).view(dtype=_int_of(tensor)))
        ), name
    assert _metrics(resumed) == _metrics(reference)
    ref_summary = json.loads((reference / "summary.json").read_text())
    summary = json.loads((resumed / "summary.json").read_text())
    for key in ("train_loss", "eval_loss_before", "eval_loss_after", "steps", "train_tokens"):
        assert summary[key] == ref_summary[key], key


def _int_of(tensor):
    import torch

    return {4: torch.int32, 2: torch.int16, 8: torch.int64}[tensor.element_size()]


def _metrics(run: Path) -> list[dict]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "tokens_per_second"} for line in lines]


@pytest.fixture(scope="session")
def reference(tiny_model, faq_file, tmp_path_factory) -> dict[str, Path]:
    """The uninterrupted runs every interrupted one must reproduce."""
    runs = {}
    for name, extra in (("plain", PLAIN), ("accumulating", ACCUMULATING)):
        out = tmp_path_factory.mktemp("reference") / name
        assert main(train_args(tiny_model, faq_file, out, extra)) == 0
        runs[name] = out
    return runs
