"""`thrifty sweep --warm-start`: autotune's suggestions run as the first trials."""

import json

from tests.autotune.test_autotune import synthetic_rows
from thrifty.cli import main


def test_warm_start_enqueues_suggestions_first(sweep_file, tmp_path):
    results = tmp_path / "past.jsonl"
    rows = synthetic_rows("a", 100, 0) + synthetic_rows("b", 400, 1)
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    space = {
        "method.rank": {"choices": [4, 8, 16, 32]},
        "train.learning_rate": {"low": 1e-5, "high": 1e-2, "log": True},
    }
    path = sweep_file({"sampler": "random", "trials": 2, "space": space}, train={"max_steps": 2})
    out = tmp_path / "warm"
    code = main(
        [
            "sweep",
            str(path),
            "--output",
            str(out),
            "--warm-start",
            "2",
            "--results",
            str(results),
            "--no-progress",
        ]
    )
    assert code == 0
    first = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    past = {(r["rank"], r["learning_rate"]) for r in rows}
    assert all((r["rank"], r["learning_rate"]) in past for r in first)  # both trials were suggestions
    lrs = sorted(r["learning_rate"] for r in first)
    assert all(1e-4 < lr < 1e-2 for lr in lrs)  # near the synthetic optimum 1e-3, not random
