"""compare with objectives and stages: sft, dpo and sft+dpo on one pairs file, each ranked on the
held-out preference accuracy against the base; the staged strategy starts its DPO from the merged SFT."""

import json

import pytest

from tests.objectives.conftest import pairs, write_jsonl
from thrifty.cli import main
from thrifty.compare.strategies import parse_strategies
from thrifty.errors import UserError


def test_compare_sft_dpo_and_sft_then_dpo_on_pairs(tiny_model, tmp_path, capsys):
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs())
    out = tmp_path / "cmp"
    args = ["compare", "--model", str(tiny_model), "--data", str(data), "--output", str(out), "--no-progress"]
    settings = [
        "data.max_seq_len=96",
        "train.micro_batch_size=2",
        "train.learning_rate=1e-2",
        "train.beta=0.2",
    ]
    assert main([*args, *settings, "--strategies", "sft,dpo,sft->dpo", "--budget-steps", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    table = {r["strategy"]: r for r in report["table"]}
    assert list(table) == ["sft", "dpo", "sft+dpo"]
    for row in table.values():
        assert row["status"] == "ok" and 0.0 <= row["preference accuracy"] <= 1.0
    staged = json.loads((out / "results" / "sft-then-dpo.json").read_text())
    first, second = staged["stages"]
    assert staged["summary"]["steps"] == 4  # two stages of the 2-step budget
    assert staged["summary"]["wall_seconds"] == pytest.approx(
        first["summary"]["wall_seconds"] + second["summary"]["wall_seconds"]
    )
    # The DPO stage started from the merged SFT model, and the SFT stage learned the chosen answers.
    dpo_config = (out / "runs" / "sft-then-dpo" / "stage-2-dpo" / "config.yaml").read_text()
    assert "stage-1-sft-merged" in dpo_config and "beta: 0.2" in dpo_config
    sft_config = (out / "runs" / "sft-then-dpo" / "stage-1-sft" / "config.yaml").read_text()
    assert "chosen.jsonl" in sft_config and "beta: 0.1\n" in sft_config  # back to the default: sft ignores it
    assert json.loads((out / "runs" / "sft" / "summary.json").read_text())["objective"] == "sft"
    chosen = [json.loads(line) for line in (out / "data" / "chosen.jsonl").read_text().splitlines()]
    assert len(chosen) == len(pairs()) and chosen[1]["messages"][-1]["content"] == pairs()[1]["chosen"]
    md = (out / "report.md").read_text()
    assert "| preference accuracy | reward margin |" in md and "frontier of preference accuracy" in md


def test_strategy_names():
    names = [s.name for s in parse_strategies("lora, dpo,sft→dpo,sft->orpo,lora", ("lora",))]
    assert names == ["lora", "dpo", "sft+dpo", "sft+orpo"]
    staged = parse_strategies("qlora+dpo", ("lora",))[0]
    assert [(s.method, s.objective) for s in staged.stages] == [("qlora", None), (None, "dpo")]
    for bad, words in (("lora+", "empty stage"), ("nope", "unknown strategy part 'nope'")):
        with pytest.raises(UserError, match=words):
            parse_strategies(bad, ("lora",))
