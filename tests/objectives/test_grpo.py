"""GRPO on the tiny model: a built-in reward and a reward-model run as the judge, 2 steps each; a raising
reward, a reward model of another tokenizer and a missing reward are one line, exit 2."""

import json

import pytest

from tests.objectives.test_orpo_simpo_kto import objective_args
from tests.objectives.test_reward import reward_run  # noqa: F401  (the fixture)
from thrifty.cli import main
from thrifty.errors import EXIT_USER_ERROR

GRPO = ["train.num_generations=2", "train.max_completion_length=8", "train.beta=0.05"]


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
    from tests.conftest import FAQ

    path = tmp_path_factory.mktemp("grpo") / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 2))
    return path


def grpo_args(model, data, out, *extra):
    return objective_args("grpo", model, data, out, *GRPO, *extra, steps=2)


def test_grpo_with_a_builtin_reward(tiny_model, prompts_file, tmp_path):
    out = tmp_path / "grpo"
    assert main(grpo_args(tiny_model, prompts_file, out, "--reward", "f1,length")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "grpo" and summary["steps"] == 2 and summary["data_format"] == "prompts"
    assert summary["reward_before"] is not None and summary["reward_after"] is not None
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("rewards/f1/mean" in m and "rewards/length/mean" in m for m in steps)
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["task_type"] == "CAUSAL_LM"


def test_grpo_with_a_reward_model_run(tiny_model, prompts_file, tmp_path, reward_run):  # noqa: F811
    out = tmp_path / "grpo-rm"
    assert main(grpo_args(tiny_model, prompts_file, out, "--reward", str(reward_run))) == 0
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(k.startswith("rewards/") and k.endswith("/mean") for m in steps for k in m)


def test_a_raising_reward_function_is_one_line(tiny_model, prompts_file, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad_rewards.py").write_text("def boom(prompts, completions, **kw):\n    return 1 / 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "grpo"
    assert main(grpo_args(tiny_model, prompts_file, out, "--reward", "bad_rewards:boom")) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "error: train.reward 'bad_rewards:boom' raised ZeroDivisionError: division by zero"
    assert not (out / "summary.json").exists()


def test_reward_model_with_another_tokenizer_is_one_line(tiny_model, prompts_file, tmp_path, capsys):
    import shutil

    from transformers import AutoTokenizer

    other = tmp_path / "other-rm"
    shutil.copytree(tiny_model, other)
    tokenizer = AutoTokenizer.from_pretrained(other)
    tokenizer.add_tokens(["<an-extra-token>"])
    tokenizer.save_pretrained(other)
    args = grpo_args(tiny_model, prompts_file, tmp_path / "g", "--reward", str(other))
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: train.reward") and "tokenizer differs from the policy model's" in err, err


def test_grpo_without_a_reward_is_one_line(tiny_model, prompts_file, tmp_path, capsys):
    assert main(grpo_args(tiny_model, prompts_file, tmp_path / "g")) == EXIT_USER_ERROR
    assert "needs a reward" in capsys.readouterr().err
