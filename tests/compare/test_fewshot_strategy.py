"""The few-shot strategy of `thrifty compare`: no training, scored beside the trained strategies."""

import json

import pytest

from thrifty.cli import main
from thrifty.compare.runner import parse_strategies
from thrifty.errors import UserError

ARGS = ["--no-progress", "data.max_seq_len=256", "train.micro_batch_size=4"]


def _compare(model, data, out, *extra):
    return main(["compare", "--model", str(model), "--data", str(data), "--output", str(out), *ARGS, *extra])


def test_few_shot_sits_beside_lora_with_no_training_and_is_reused(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    run = ["--strategies", "few-shot,lora", "--gpu", "rtx4090", "--few-shot", "2", "--json"]
    assert _compare(tiny_model, alpaca_file, out, *run, "--budget-steps", "2") == 0
    table = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["table"]}
    shot, lora = table["few-shot"], table["lora"]
    assert shot["status"] == "ok" and shot["steps"] == 0 and shot["$"] == 0 and shot["trainable params"] == 0
    assert lora["steps"] == 2 and lora["$"] > 0
    # The same base on the same held-out answer tokens, averaged as the trainer averages: the zero-shot
    # loss few-shot measures is lora's loss before training (LoRA starts as the identity).
    assert shot["eval loss before"] == pytest.approx(lora["eval loss before"], rel=1e-4)
    assert shot["eval loss"] != shot["eval loss before"]  # the shots changed the context
    assert shot["prompt tokens per query"] > shot["zero-shot prompt tokens"]
    record = json.loads((out / "results" / "few-shot.json").read_text())
    assert record["few_shot"]["k"] == 2 and record["few_shot"]["shots_per_prompt"] == 2
    assert not (out / "runs" / "few-shot").exists()  # nothing trained, nothing saved
    md = (out / "report.md").read_text()
    assert "| few-shot" in md and "| lora" in md and "prompt tokens per query instead of" in md
    # A new budget retrains lora only: few-shot does not depend on it.
    assert _compare(tiny_model, alpaca_file, out, *run, "--budget-steps", "3") == 0
    err = capsys.readouterr().err
    assert "few-shot: result unchanged, skipped" in err and "lora: result unchanged" not in err
    # Other shots are another result.
    assert _compare(tiny_model, alpaca_file, out, *run[:-3], "--few-shot", "1", "--budget-steps", "3") == 0
    err = capsys.readouterr().err
    assert "few-shot: result unchanged" not in err and "lora: result unchanged, skipped" in err


def test_strategy_name():
    strategies = parse_strategies("few-shot,lora")
    assert [(s.name, s.baseline) for s in strategies] == [("few-shot", "few-shot"), ("lora", None)]
    with pytest.raises(UserError, match="cannot be a stage"):
        parse_strategies("few-shot+dpo")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--few-shot", "0"], "--few-shot 0: must be a positive whole number"),
        (["--few-shot", "-2"], "--few-shot -2: must be a positive whole number"),
        (["--strategies", "lora", "--few-shot", "2"], "add few-shot to --strategies"),
        (["--strategies", "few-shot+sft"], "few-shot trains nothing, so it cannot be a stage"),
    ],
)
def test_bad_few_shot_input_is_one_line_exit_2(args, expected, tiny_model, alpaca_file, tmp_path, capsys):
    args = args if "--strategies" in args else ["--strategies", "few-shot,lora", *args]
    assert _compare(tiny_model, alpaca_file, tmp_path / "cmp", *args, "--budget-steps", "1") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and expected in err, err
    assert not (tmp_path / "cmp" / "results").exists()  # nothing ran


def test_few_shot_on_pairs_is_refused_before_training(tiny_model, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"Question {i}?", "chosen": "Yes.", "rejected": "No."} for i in range(10)]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert (
        _compare(tiny_model, pairs, tmp_path / "cmp", "--strategies", "dpo,few-shot", "--budget-steps", "1")
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "few-shot is scored on held-out answers" in err
    assert not (tmp_path / "cmp" / "results").exists()
