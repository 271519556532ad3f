"""The chunked head+loss equals the plain loss: values and gradients, in fp64 and through a real model."""

import pytest
import torch
import torch.nn.functional as F

from thrifty.data.tokenize import IGNORE_INDEX
from thrifty.models import chunked_loss
from thrifty.models.chunked_loss import install, linear_cross_entropy


def _plain(hidden, weight, labels, num_items=None, softcap=None):
    logits = (hidden @ weight.T).float()
    if softcap:
        logits = softcap * torch.tanh(logits / softcap)
    reduction = "sum" if num_items is not None else "mean"
    loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX, reduction=reduction)
    return loss / num_items if num_items is not None else loss


@pytest.mark.parametrize("softcap", [None, 30.0])
@pytest.mark.parametrize("num_items", [None, 17])
def test_loss_and_gradients_equal_the_plain_loss_fp64(softcap, num_items):
    torch.manual_seed(0)
    hidden = torch.randn(23, 8, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 8, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 50, (23,))
    labels[::4] = IGNORE_INDEX  # ignored positions are skipped, not counted
    got = linear_cross_entropy(hidden, weight, labels, num_items, softcap, chunk=5)  # 5 chunks, uneven
    got.backward()
    grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    # The plain loss in fp64 too (the chunked one computes logits in the inputs' dtype, then fp32
    # for the log-sum-exp: upcast here so both round the same way).
    want = _plain(hidden, weight, labels, num_items, softcap)
    want.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    assert torch.allclose(grads[0], hidden.grad, rtol=1e-5, atol=1e-7)
    assert torch.allclose(grads[1], weight.grad, rtol=1e-5, atol=1e-7)


def test_a_frozen_head_gets_no_gradient_and_fp32_matches():
    torch.manual_seed(1)
    hidden = torch.randn(40, 16, requires_grad=True)
    weight = torch.randn(300, 16)  # frozen, as under LoRA
    labels = torch.randint(0, 300, (40,))
    got = linear_cross_entropy(hidden, weight, labels, chunk=7)
    got.backward()
    grad = hidden.grad.clone()
    hidden.grad = None
    want = _plain(hidden, weight, labels)
    want.backward()
    assert weight.grad is None
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    assert torch.allclose(grad, hidden.grad, rtol=1e-4, atol=1e-6)


def _batch(model):
    torch.manual_seed(2)
    ids = torch.randint(3, model.config.vocab_size, (2, 24))
    labels = ids.clone()
    labels[:, :9] = IGNORE_INDEX  # a prompt that learns nothing
    return {"input_ids": ids, "labels": labels}


def _step(model, batch):
    model.zero_grad(set_to_none=True)
    loss = model(**batch).loss
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.item(), grads


@pytest.mark.parametrize("method", ["lora", "full"])
def test_a_model_trains_the_same_with_the_chunked_loss(tiny_model, method, monkeypatch):
    """Through a real tiny Llama (tied head and embeddings): same loss and gradients as its own loss,
    with the head trainable (full) and frozen (LoRA); no logits are built in training; eval unchanged."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(chunked_loss, "CHUNK_ELEMENTS", 300 * 5)  # several chunks even at this size
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", lora_dropout=0.0))
        torch.nn.init.normal_(model.base_model.model.model.layers[0].self_attn.q_proj.lora_B.default.weight)
    model.train()
    batch = _batch(model)
    want = _step(model, batch)
    assert install(model) is True
    assert install(model) is False  # once only
    got = _step(model, batch)
    assert got[0] == pytest.approx(want[0], rel=1e-5)
    assert got[1].keys() == want[1].keys() and got[1]
    for name, grad in want[1].items():
        assert torch.allclose(got[1][name], grad, rtol=1e-4, atol=1e-6), name
    assert model(**batch).logits.numel() == 0  # training built no logits
    model.eval()
    with torch.no_grad():
        out = model(**batch)
    assert out.logits.shape[-1] == model.config.vocab_size and out.loss.item() == pytest.approx(
        want[0], rel=1e-4
    )


def test_unknown_architectures_keep_their_own_loss(tiny_model):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model.config.model_type = "cohere"  # logit_scale: its forward is not lm_head(hidden)
    assert install(model) is False
    assert not hasattr(model, "_loss_function")


def test_a_run_learns_the_same_with_and_without_it(tiny_model, alpaca_file, tmp_path):
    """Default on; a run with it off ends with the same adapter (same batches, no dropout)."""
    import json

    from safetensors.torch import load_file

    from thrifty.cli import main

    runs = {}
    for name, extra in (("chunked", []), ("plain", ["train.chunked_loss=false"])):
        out = tmp_path / name
        args = ["train", "--model", str(tiny_model), "--data", str(alpaca_file), "--output", str(out)]
        args += ["--no-progress", "--max-steps", "3", "method.dropout=0", "train.precision=fp32", *extra]
        assert main(args) == 0
        summary = json.loads((out / "summary.json").read_text())
        runs[name] = summary, load_file(out / "adapter" / "adapter_model.safetensors")
    assert runs["chunked"][0]["loss_head"] == "chunked" and runs["plain"][0]["loss_head"] == "plain"
    assert runs["chunked"][0]["train_loss"] == pytest.approx(runs["plain"][0]["train_loss"], rel=1e-5)
    for key, tensor in runs["plain"][1].items():
        assert torch.allclose(runs["chunked"][1][key], tensor, atol=1e-6), key
