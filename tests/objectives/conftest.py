"""Preference pairs on the tiny model's vocabulary, and the DPO training command."""

import json
from pathlib import Path

import pytest

from tests.conftest import FAQ

STEPS = 3


def pairs() -> list[dict]:
    """Chosen = the FAQ's answer; rejected = another question's answer (a wrong one). Half as chat lists."""
    out = []
    for i, row in enumerate(FAQ * 3):
        wrong = FAQ[(i + 1) % len(FAQ)]["output"]
        if i % 2:
            out.append({"prompt": row["instruction"], "chosen": row["output"], "rejected": wrong})
        else:
            out.append(
                {
                    "prompt": [{"role": "user", "content": row["instruction"]}],
                    "chosen": [{"role": "assistant", "content": row["output"]}],
                    "rejected": [{"role": "assistant", "content": wrong}],
                }
            )
    return out


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", pairs())


def dpo_args(model: Path, data: Path, out: Path, *extra: str, steps: int = STEPS) -> list[str]:
    return [
        "train",
        "--model",
        str(model),
        "--data",
        str(data),
        "--output",
        str(out),
        "--objective",
        "dpo",
        "--no-progress",
        f"train.max_steps={steps}",
        "train.micro_batch_size=2",
        "train.logging_steps=1",
        "train.learning_rate=1e-2",
        "data.max_seq_len=128",
        "data.val_fraction=0.25",
        *extra,
    ]
