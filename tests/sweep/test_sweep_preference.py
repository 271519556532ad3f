"""A DPO sweep over beta, ranked on the held-out preference accuracy (a DPO eval loss depends on beta)."""

import json

import yaml

from tests.objectives.conftest import pairs, write_jsonl
from thrifty.cli import main
from thrifty.sweep.results import read_rows


def _sweep_file(tmp_path, tiny_model, objective: str = "dpo"):
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs())
    config = {
        "model": {"name": str(tiny_model)},
        "data": {"path": str(data), "max_seq_len": 96, "val_fraction": 0.25},
        "train": {"objective": objective, "max_steps": 2, "micro_batch_size": 2, "learning_rate": 1e-2},
        "checkpoint": {"every_minutes": None},
        "sweep": {
            "domain": "pairs",
            "sampler": "grid",
            "space": {"train.beta": {"choices": [0.05, 0.5]}},
            "objectives": ["preference_accuracy"],
        },
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_beta_sweep_ranks_on_preference_accuracy(tmp_path, tiny_model, capsys):
    out = tmp_path / "sweep"
    assert (
        main(
            ["sweep", str(_sweep_file(tmp_path, tiny_model)), "--output", str(out), "--no-progress", "--json"]
        )
        == 0
    )
    rows = read_rows(out / "results.jsonl")
    assert sorted(r["params"]["train.beta"] for r in rows) == [0.05, 0.5]
    assert all(r["objective"] == "dpo" and 0 <= r["preference_accuracy"] <= 1 for r in rows)
    best = json.loads(capsys.readouterr().out)
    assert best[0]["values"][0] == max(r["preference_accuracy"] for r in rows)  # maximised


def test_preference_objective_on_an_sft_config_is_one_line(tmp_path, tiny_model, capsys):
    path = _sweep_file(tmp_path, tiny_model, objective="sft")
    assert main(["sweep", str(path), "--output", str(tmp_path / "s"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs a preference run" in err[0]
    assert not (tmp_path / "s").exists()
