"""Run folders written by hand, in the shape thrifty train writes them, for the fast (non-browser) tests."""

import json
from pathlib import Path

import yaml

from thrifty.outputs import write_marker

METRICS = [
    {"step": 0, "epoch": 0.0, "eval_loss": 5.72},
    {"step": 1, "loss": 5.70, "learning_rate": 0.01, "tokens_per_second": 1500.0},
    {"step": 2, "loss": 5.65, "learning_rate": 0.01, "tokens_per_second": 1600.0},
]


def fake_run(root: Path, name: str, finished: bool = True, checkpoint: int | None = None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    write_marker(run, "train")
    config = {
        "model": {"name": "tiny"},
        "method": {"name": "lora"},
        "train": {"objective": "sft", "max_steps": 4},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in METRICS))
    if checkpoint is not None:
        add_checkpoint(run, checkpoint)
    if finished:
        summary = {
            "model": "tiny",
            "method": "lora",
            "objective": "sft",
            "steps": 4,
            "eval_loss_before": 5.72,
        }
        summary.update(eval_loss_after=5.6, tokens_per_second=1550.0, peak_memory_bytes=2**30)
        summary.update(predicted_peak_memory_bytes=2**29, wall_seconds=2.0, predicted_seconds=1.0)
        summary.update(predicted_flops=1e12, train_tokens=1000, predicted_tokens=1000)
        (run / "summary.json").write_text(json.dumps(summary))
    return run


def add_checkpoint(run: Path, step: int, complete: bool = True) -> Path:
    folder = run / "checkpoints" / f"step-{step:06d}"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"x" * 100)
    if complete:
        files = {"adapter_model.safetensors": {"bytes": 100, "sha256": "0" * 64}}
        (folder / "manifest.json").write_text(json.dumps({"format": 1, "step": step, "files": files}))
    return folder
