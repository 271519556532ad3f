"""thrifty prune --heads/--mlp: narrower blocks with the shapes asked for, grouped-query attention kept
consistent (the pruned model computes exactly what the original computes with those heads and channels
silenced), a 0 ratio changes nothing, and every criterion gives a model that trains and reloads."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.conftest import FAQ
from thrifty.cli import main
from thrifty.errors import EXIT_USER_ERROR

IDS = torch.tensor([[1, 5, 9, 14, 3, 7, 2, 11]])


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    path = tmp_path_factory.mktemp("calib") / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 4))
    return path


@pytest.fixture
def prune(calibration):
    def run(model, out, *flags) -> int:
        argv = ["prune", str(model), "-o", str(out), "--calibration", str(calibration), "--no-progress"]
        return main([*argv, *flags])

    return run


def logits(folder):
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(input_ids=IDS).logits


def kept_rows(small, big, width: int) -> list[int]:
    """Which `width`-row blocks of `big` survive in `small` (the pruner keeps the original order)."""
    blocks = big.reshape(-1, width, big.shape[1])
    return [
        next(i for i, b in enumerate(blocks) if torch.equal(b, s))
        for s in small.reshape(-1, width, small.shape[1])
    ]


def silenced_original(tiny_model, small):
    """The original with every removed head's o_proj columns and removed channel's down_proj columns
    zeroed: it must compute exactly what the pruned model computes."""
    original = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    head_dim = original.config.head_dim
    for big, little in zip(original.model.layers, small.model.layers, strict=True):
        heads = kept_rows(little.self_attn.q_proj.weight, big.self_attn.q_proj.weight, head_dim)
        mask = torch.zeros(big.self_attn.o_proj.in_features)
        for h in heads:
            mask[h * head_dim : (h + 1) * head_dim] = 1
        big.self_attn.o_proj.weight.data *= mask
        channels = kept_rows(little.mlp.gate_proj.weight, big.mlp.gate_proj.weight, 1)
        mask = torch.zeros(big.mlp.down_proj.in_features)
        mask[channels] = 1
        big.mlp.down_proj.weight.data *= mask
    return original


@pytest.mark.parametrize("criterion", ["taylor", "wanda", "magnitude"])
def test_heads_within_groups_and_mlp_channels(prune, tiny_model, tmp_path, criterion):
    out = tmp_path / "narrow"
    assert (
        prune(
            tiny_model,
            out,
            "--heads",
            "0.5",
            "--mlp",
            "0.25",
            "--mlp-multiple",
            "1",
            "--criterion",
            criterion,
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert (config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]) == (2, 2, 8)
    assert config["intermediate_size"] == 48
    small = AutoModelForCausalLM.from_pretrained(out).eval()
    block = small.model.layers[0]
    assert block.self_attn.q_proj.weight.shape == (16, 32) and block.self_attn.o_proj.weight.shape == (32, 16)
    assert block.self_attn.k_proj.weight.shape == (16, 32)  # the KV cache is untouched
    assert block.mlp.gate_proj.weight.shape == (48, 32) and block.mlp.down_proj.weight.shape == (32, 48)
    original = AutoModelForCausalLM.from_pretrained(tiny_model)
    for big, little in zip(original.model.layers, small.model.layers, strict=True):
        heads = kept_rows(little.self_attn.q_proj.weight, big.self_attn.q_proj.weight, 8)
        assert sorted(h // 2 for h in heads) == [0, 1]  # one query head kept in each of the 2 KV groups
    with torch.no_grad():
        torch.testing.assert_close(
            small(input_ids=IDS).logits, silenced_original(tiny_model, small)(input_ids=IDS).logits
        )
    small.train()
    small(input_ids=IDS, labels=IDS).loss.backward()
    assert all(p.grad is not None for p in small.parameters())
    report = json.loads((out / "prune.json").read_text())
    assert report["criterion"] == criterion and report["params_after"] < report["params_before"]
    assert (report["heads_before"], report["heads_after"], report["intermediate_after"]) == (4, 2, 48)


def test_whole_kv_groups_shrink_the_kv_cache(prune, tiny_model, tmp_path):
    out = tmp_path / "groups"
    assert prune(tiny_model, out, "--heads", "0.5", "--head-groups", "whole") == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["num_attention_heads"], config["num_key_value_heads"]) == (2, 1)
    small = AutoModelForCausalLM.from_pretrained(out).eval()
    assert small.model.layers[1].self_attn.k_proj.weight.shape == (8, 32)
    original = AutoModelForCausalLM.from_pretrained(tiny_model)
    for big, little in zip(original.model.layers, small.model.layers, strict=True):
        heads = kept_rows(little.self_attn.q_proj.weight, big.self_attn.q_proj.weight, 8)
        group = kept_rows(little.self_attn.k_proj.weight, big.self_attn.k_proj.weight, 8)
        assert heads == [2 * group[0], 2 * group[0] + 1]  # both query heads of the kept KV group
    with torch.no_grad():
        torch.testing.assert_close(
            small(input_ids=IDS).logits, silenced_original(tiny_model, small)(input_ids=IDS).logits
        )


def test_zero_ratios_change_nothing(prune, tiny_model, tmp_path):
    out = tmp_path / "same"
    assert prune(tiny_model, out, "--heads", "0", "--mlp", "0") == 0
    assert json.loads((out / "config.json").read_text())["intermediate_size"] == 64
    torch.testing.assert_close(logits(out), logits(tiny_model), rtol=0, atol=0)


def test_blocks_and_width_together_train_and_plan(prune, calibration, tiny_model, tmp_path, capsys):
    out = tmp_path / "both"
    assert (
        prune(tiny_model, out, "--layers", "1", "--heads", "0.5", "--mlp", "0.5", "--mlp-multiple", "1") == 0
    )
    report = json.loads((out / "prune.json").read_text())
    assert (report["layers_after"], report["heads_after"], report["intermediate_after"]) == (1, 2, 32)
    run = tmp_path / "run"
    argv = [
        "train",
        "--model",
        str(out),
        "--data",
        str(calibration),
        "--output",
        str(run),
        "--max-steps",
        "1",
    ]
    assert main([*argv, "--no-progress", "data.max_seq_len=64", "--method", "full"]) == 0
    capsys.readouterr()
    assert main(["plan", "--model", str(out), "--method", "full", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    params = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(out).parameters())
    assert json.dumps(params) in json.dumps(plan)  # the planner counts the pruned shapes


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--heads", "1"], "at least 0 and below 1"),
        (["--mlp", "-0.1"], "at least 0 and below 1"),
        (["--heads", "0.9"], "removes all 2 query heads per KV group"),
        (["--heads", "0.9", "--head-groups", "whole"], "removes all 2 KV groups"),
        (["--heads", "0.1"], "removes no head"),
        (["--mlp", "0.001", "--mlp-multiple", "1"], "removes no channel"),
    ],
)
def test_bad_ratios_are_one_line_and_write_nothing(prune, tiny_model, tmp_path, capsys, flags, says):
    out = tmp_path / "out"
    assert prune(tiny_model, out, *flags) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and not out.exists()


@pytest.fixture(scope="module")
def weak_units(tmp_path_factory):
    """The tiny model with MLP channel 5 and query head 1 of every block nearly silenced (weights x 1e-3):
    every criterion must rank exactly those lowest."""
    from tests.conftest import save_tiny_model

    folder = save_tiny_model(tmp_path_factory.mktemp("weak") / "model")
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():
        for block in model.model.layers:
            for linear in (block.mlp.gate_proj, block.mlp.up_proj):
                linear.weight[5] *= 1e-3
            block.mlp.down_proj.weight[:, 5] *= 1e-3
            block.self_attn.q_proj.weight[8:16] *= 1e-3
            block.self_attn.o_proj.weight[:, 8:16] *= 1e-3
    model.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("criterion", ["taylor", "wanda", "magnitude"])
def test_each_criterion_removes_the_silenced_units(prune, weak_units, tmp_path, criterion):
    out = tmp_path / "pruned"
    flags = ["--mlp", str(1 / 64), "--mlp-multiple", "1", "--heads", "0.5", "--criterion", criterion]
    assert prune(weak_units, out, *flags) == 0
    original, small = (AutoModelForCausalLM.from_pretrained(f) for f in (weak_units, out))
    for big, little in zip(original.model.layers, small.model.layers, strict=True):
        channels = kept_rows(little.mlp.gate_proj.weight, big.mlp.gate_proj.weight, 1)
        assert 5 not in channels and len(channels) == 63
        heads = kept_rows(little.self_attn.q_proj.weight, big.self_attn.q_proj.weight, 8)
        assert heads[0] == 0  # group 0 (heads 0 and 1) kept head 0, the one not silenced
