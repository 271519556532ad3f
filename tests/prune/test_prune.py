"""thrifty prune --layers: the least important blocks go, the result is an ordinary HF folder that
loads, trains and plans, and refusals are one line with nothing written."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

from tests.conftest import build_tokenizer
from thrifty.cli import main
from thrifty.errors import EXIT_USER_ERROR


def prune(*argv: str) -> int:
    return main(["prune", *argv, "--no-progress"])


@pytest.fixture(scope="module")
def pruned(tiny_model, tmp_path_factory):
    data = tmp_path_factory.mktemp("calib") / "faq.jsonl"
    from tests.conftest import FAQ

    data.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 5))
    out = tmp_path_factory.mktemp("pruned") / "model"
    assert prune(str(tiny_model), "--layers", "1", "--calibration", str(data), "-o", str(out)) == 0
    return out, data


def test_the_folder_is_a_smaller_standard_model(tiny_model, pruned):
    out, _ = pruned
    report = json.loads((out / "prune.json").read_text())
    assert report["layers_before"] == 2 and report["layers_after"] == 1 and len(report["dropped"]) == 1
    kept = 1 - report["dropped"][0]
    assert report["importance"][report["dropped"][0]] <= report["importance"][kept]  # the less important went
    assert json.loads((out / "config.json").read_text())["num_hidden_layers"] == 1
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    assert report["params_after"] < report["params_before"]


def test_it_computes_what_the_original_computes_without_that_block(tiny_model, pruned):
    out, _ = pruned
    dropped = json.loads((out / "prune.json").read_text())["dropped"][0]
    original = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    original.model.layers = torch.nn.ModuleList(
        [b for i, b in enumerate(original.model.layers) if i != dropped]
    )
    for index, block in enumerate(original.model.layers):
        block.self_attn.layer_idx = index
    small = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.tensor([[1, 5, 9, 14, 3, 7]])
    with torch.no_grad():
        torch.testing.assert_close(small(input_ids=ids).logits, original(input_ids=ids).logits)
    small.train()
    small(input_ids=ids, labels=ids).loss.backward()  # and it trains
    assert all(p.grad is not None for p in small.parameters() if p.requires_grad)


def test_train_and_plan_take_the_pruned_folder(pruned, tmp_path, capsys):
    out, data = pruned
    run = tmp_path / "run"
    argv = ["train", "--model", str(out), "--data", str(data), "--output", str(run), "--max-steps", "1"]
    assert main([*argv, "--no-progress", "data.max_seq_len=64"]) == 0
    assert json.loads((run / "summary.json").read_text())["steps"] == 1
    capsys.readouterr()
    assert main(["plan", "--model", str(out), "--method", "lora", "--json"]) == 0
    assert "trainable" in capsys.readouterr().out


def test_dropping_every_block_is_refused_and_writes_nothing(tiny_model, tmp_path, capsys):
    out = tmp_path / "out"
    assert prune(str(tiny_model), "--layers", "2", "-o", str(out)) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "has 2 blocks" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_an_architecture_without_a_rule_lists_the_supported_ones(tmp_path, capsys):
    folder = tmp_path / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=300)).save_pretrained(folder)
    build_tokenizer().save_pretrained(folder)
    assert prune(str(folder), "--layers", "1", "-o", str(tmp_path / "out")) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "gpt2" in err and "llama" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--layers", "0"], "positive whole number"),
        ([], "pass --layers N"),
        (["--layers", "1", "--calibration", "MISSING"], "not found"),
    ],
)
def test_bad_flags_are_one_line(tiny_model, tmp_path, capsys, flags, says):
    flags = [str(tmp_path / "nope.jsonl") if f == "MISSING" else f for f in flags]
    assert prune(str(tiny_model), *flags, "-o", str(tmp_path / "out")) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
