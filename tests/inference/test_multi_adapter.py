import json

import pytest
import torch

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.inference.generate import load_for_generation, select_adapter


@pytest.fixture(scope="module")
def two_adapters(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi")
    data = write_faq(folder / "faq.jsonl")
    legal = train_tiny_run(tiny_model, data, folder / "legal", "lora", "train.seed=1")
    medical = train_tiny_run(tiny_model, data, folder / "medical", "lora", "train.seed=2", "method.rank=4")
    return str(legal / "adapter"), str(medical / "adapter")


def _logits(model, tokenizer):
    batch = tokenizer(["How do I apply for a building permit?"], return_tensors="pt")
    with torch.no_grad():
        return model(**batch).logits


def test_one_base_serves_each_adapter_like_a_model_loaded_with_it_alone(tiny_model, two_adapters):
    legal, medical = two_adapters
    both, tokenizer = load_for_generation(str(tiny_model), [legal, medical])
    assert set(both.peft_config) == {"legal", "medical"}
    for folder, name in ((legal, "legal"), (medical, "medical")):
        assert select_adapter(both, [legal, medical], name) == name
        alone, _ = load_for_generation(str(tiny_model), folder)
        torch.testing.assert_close(_logits(both, tokenizer), _logits(alone, tokenizer))
    select_adapter(both, [legal, medical], legal)  # the folder path works as well as the name
    assert both.active_adapter == "legal"
    base, _ = load_for_generation(str(tiny_model))
    with both.disable_adapter():
        torch.testing.assert_close(_logits(both, tokenizer), _logits(base, tokenizer))
    assert not torch.allclose(_logits(both, tokenizer), _logits(base, tokenizer))


def test_generate_cli_with_several_adapters(tiny_model, two_adapters, capsys):
    legal, medical = two_adapters
    argv = ["generate", "--model", str(tiny_model), "--adapter", legal, "--adapter", medical]
    argv += ["--max-new-tokens", "3", "--json", "--use", "medical,base", "Hi", "Permit?"]
    assert main(argv) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [(x["adapter"], x["prompt"]) for x in lines] == [
        ("medical", "Hi"),
        ("medical", "Permit?"),
        ("base", "Hi"),
        ("base", "Permit?"),
    ]
    argv[-4:-2] = ["--use", "dental"]
    assert main(argv) == 2
    assert "choose from legal, medical or base" in capsys.readouterr().err
