"""The prune+lora strategy of `thrifty compare`: the base pruned at the given shares, then LoRA under the
same budget as plain lora, side by side in one report."""

import json

import pytest
from transformers import AutoConfig

from thrifty.cli import main
from thrifty.compare.runner import parse_strategies
from thrifty.errors import UserError

ARGS = ["--no-progress", "data.max_seq_len=128", "train.micro_batch_size=4"]


def _compare(model, data, out, *extra):
    return main(["compare", "--model", str(model), "--data", str(data), "--output", str(out), *ARGS, *extra])


def test_prune_then_lora_beside_lora_under_one_budget(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    run = [
        "--strategies",
        "lora,prune+lora",
        "--prune-heads",
        "0.5",
        "--prune-mlp",
        "0.5",
        "--gpu",
        "rtx4090",
    ]
    assert _compare(tiny_model, alpaca_file, out, *run, "--budget-steps", "2", "--json") == 0
    table = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["table"]}
    lora, pruned = table["lora"], table["prune+lora"]
    assert lora["steps"] == pruned["steps"] == 2 and pruned["$"] > 0
    assert pruned["model params"] < lora["model params"]
    assert pruned["trainable params"] < lora["trainable params"]  # narrower q/v projections, fewer LoRA rows
    # The recovery stage starts from the pruned model: its "before" is the pruned model's loss, not the base's.
    assert pruned["eval loss before"] != pytest.approx(lora["eval loss before"])
    record = json.loads((out / "results" / "prune-then-lora.json").read_text())
    prune_stage, lora_stage = record["stages"]
    assert prune_stage["method"] == "prune" and lora_stage["method"] == "lora"
    model = AutoConfig.from_pretrained(f"{prune_stage['run_dir']}/model")
    assert (model.num_attention_heads, model.intermediate_size) == (2, 32)
    # Other shares are another result; lora's is reused.
    assert (
        _compare(tiny_model, alpaca_file, out, *run[:-4], "--prune-mlp", "0.25", "--budget-steps", "2") == 0
    )
    err = capsys.readouterr().err
    assert "lora: result unchanged, skipped" in err and "prune+lora: result unchanged" not in err


def test_strategy_names():
    strategies = parse_strategies("prune+lora,lora")
    assert [s.name for s in strategies] == ["prune+lora", "lora"]
    assert strategies[0].stages[0].prune and strategies[0].stages[1].method == "lora"
    for bad in ("prune", "lora+prune", "prune+prune+lora"):
        with pytest.raises(UserError, match="prune trains nothing"):
            parse_strategies(bad)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--prune-heads", "1.5"], "strategy prune: --prune-heads 1.5: a ratio is the share to remove"),
        (["--prune-layers", "2"], "strategy prune: --prune-layers 2: the model has 2 blocks"),
        (["--strategies", "lora", "--prune-mlp", "0.5"], "add a prune strategy to --strategies"),
    ],
)
def test_bad_prune_input_is_one_line_exit_2(args, expected, tiny_model, alpaca_file, tmp_path, capsys):
    args = args if "--strategies" in args else ["--strategies", "lora,prune+lora", *args]
    assert _compare(tiny_model, alpaca_file, tmp_path / "cmp", *args, "--budget-steps", "1") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and expected in err, err
    assert not (tmp_path / "cmp" / "results").exists()
