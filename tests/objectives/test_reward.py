"""A reward model on the tiny model: trains a one-score head (LoRA saves it beside the adapter), records
held-out accuracy, and loads back through the run-folder loader as a scorer."""

import json

import pytest

from tests.objectives.test_orpo_simpo_kto import objective_args


@pytest.fixture(scope="module")
def reward_run(tiny_model, tmp_path_factory):
    from tests.objectives.conftest import pairs, write_jsonl
    from thrifty.cli import main

    folder = tmp_path_factory.mktemp("reward")
    out = folder / "rm"
    assert main(objective_args("reward", tiny_model, write_jsonl(folder / "pairs.jsonl", pairs()), out)) == 0
    return out


def test_reward_run_records_accuracy_and_saves_the_head(reward_run):
    summary = json.loads((reward_run / "summary.json").read_text())
    assert summary["objective"] == "reward" and summary["steps"] == 3
    assert 0.0 <= summary["preference_accuracy_after"] <= 1.0 and summary["reward_margin_after"] is not None
    config = json.loads((reward_run / "adapter" / "adapter_config.json").read_text())
    assert config["task_type"] == "SEQ_CLS" and "score" in config["modules_to_save"]


def test_reward_run_loads_as_a_scorer(reward_run):
    import torch

    from thrifty.inference.run_folder import load_tuned, open_run

    model = load_tuned(open_run(reward_run))
    with torch.no_grad():
        scores = model(torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])).logits
    assert scores.shape == (2, 1) and not torch.equal(scores[0], scores[1])


def test_eval_of_a_reward_run_is_one_line(reward_run, capsys):
    from thrifty.cli import main

    assert main(["eval", str(reward_run)]) == 2
    assert "is a reward model" in capsys.readouterr().err
