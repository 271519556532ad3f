"""Finished tiny runs for the eval and export tests: a few real `thrifty train` steps on the tiny model."""

import json
from pathlib import Path

from tests.conftest import FAQ
from thrifty.cli import main


def write_faq(path: Path, copies: int = 5) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * copies))
    return path


def train_tiny_run(model: Path, data: Path, out: Path, method: str = "lora", *extra: str) -> Path:
    """4 steps at a high learning rate, so the adapter visibly moves the logits."""
    argv = ["train", "--model", str(model), "--data", str(data), "--output", str(out), "--method", method]
    argv += ["--max-steps", "4", "--no-progress", "train.learning_rate=1e-2", "train.warmup_ratio=0"]
    argv += ["data.max_seq_len=128", *extra]
    assert main(argv) == 0
    return out
