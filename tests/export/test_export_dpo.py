"""A DPO adapter exports like any other: merged into its base, the merged model gives the adapter's
logits, and the model card names the objective."""

import torch

from tests.objectives.conftest import dpo_args, pairs, write_jsonl
from thrifty.cli import main


def test_a_dpo_adapter_merges_into_a_model_with_the_same_outputs(tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run = tmp_path / "dpo"
    assert main(dpo_args(tiny_model, write_jsonl(tmp_path / "pairs.jsonl", pairs()), run)) == 0
    out = tmp_path / "shipped"
    assert main(["export", str(run), "--merge", "--output", str(out)]) == 0
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    tuned = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model), run / "adapter"
    ).eval()
    ids = torch.tensor([[1, 5, 9, 2, 7]])
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-5)
        with tuned.disable_adapter():
            assert not torch.allclose(merged(ids).logits, tuned(ids).logits, atol=1e-5)  # DPO moved it
    card = (out / "merged" / "README.md").read_text()
    assert "| objective | dpo (beta 0.1) |" in card and "held-out preference accuracy before -> after" in card
