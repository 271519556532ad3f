"""train.reuse.Preloaded: runs that copy one loaded base and data train exactly as runs that load them,
and no run sees what an earlier one trained."""

import torch
from safetensors.torch import load_file

from thrifty.config.load import validate
from thrifty.config.schema import ModelConfig
from thrifty.models.load import load_model
from thrifty.train.reuse import Preloaded
from thrifty.train.run import train


def run_config(model, data, out, method: str):
    return validate(
        {
            "model": {"name": str(model)},
            "method": {"name": method, "rank": 4},
            "data": {"path": str(data), "max_seq_len": 64},
            "train": {"max_steps": 3, "learning_rate": 1e-2, "warmup_ratio": 0, "logging_steps": 1},
            "checkpoint": {"every_minutes": None},
            "output": {"dir": str(out)},
        },
        source="test",
    )


FIGURES = ("eval_loss_before", "eval_loss_after", "train_loss", "train_tokens")


def test_copied_base_trains_bitwise_like_a_fresh_load(tiny_model, faq_file, tmp_path):
    # Full fine-tuning first: it updates the base weights themselves, so a kept base that was not
    # pristine would change the LoRA run after it (its loss before training, its adapter).
    methods = ["full", "lora"]
    fresh = [
        train(run_config(tiny_model, faq_file, tmp_path / f"fresh-{m}", m), progress=False) for m in methods
    ]
    cache = Preloaded()
    copied = [
        train(run_config(tiny_model, faq_file, tmp_path / f"copied-{m}", m), progress=False, preloaded=cache)
        for m in methods
    ]
    assert (cache.loads, cache.preparations) == (1, 1)  # the second run copied both
    for a, b in zip(fresh, copied, strict=True):
        assert [a.summary[k] for k in FIGURES] == [b.summary[k] for k in FIGURES]
    adapter = "adapter/adapter_model.safetensors"
    want, got = load_file(fresh[1].run_dir / adapter), load_file(copied[1].run_dir / adapter)
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    # The full run moved the weights (so the check above could fail), and the kept base is as loaded.
    torch.manual_seed(0)
    kept = cache.load_model(str(tiny_model), ModelConfig(name=str(tiny_model))).state_dict()
    loaded = load_model(str(tiny_model), ModelConfig(name=str(tiny_model))).state_dict()
    trained = fresh[0].model.state_dict()
    assert kept.keys() == loaded.keys() and all(torch.equal(kept[k], loaded[k]) for k in kept)
    assert not all(torch.equal(kept[k], trained[k].cpu()) for k in kept)
    assert cache.loads == 2  # another RNG state than the runs' seed: loaded, not copied


def test_a_load_of_another_kind_is_not_copied(tiny_model):
    cache, path = Preloaded(), str(tiny_model)
    plain, half = ModelConfig(name=path), ModelConfig(name=path, dtype="bfloat16")
    torch.manual_seed(0)
    first = cache.load_model(path, plain)
    torch.manual_seed(0)
    again = cache.load_model(path, plain)
    assert cache.loads == 1 and again is not first
    weight = "model.embed_tokens.weight"
    assert again.state_dict()[weight].data_ptr() != first.state_dict()[weight].data_ptr()
    with torch.no_grad():
        again.model.embed_tokens.weight.add_(1.0)  # a run changing its copy ...
    torch.manual_seed(0)
    third = cache.load_model(path, plain)
    assert torch.equal(third.state_dict()[weight], first.state_dict()[weight])  # ... changes no later copy
    torch.manual_seed(0)
    assert cache.load_model(path, half).dtype == torch.bfloat16 and cache.loads == 2


def test_a_copy_leaves_the_rng_where_the_load_did(tiny_model):
    # A random init draws from the generator; the adapter initialised next draws what it left.
    cache, config = Preloaded(), ModelConfig(name=str(tiny_model))
    draws, weights = [], []
    for _ in range(2):
        torch.manual_seed(0)
        weights.append(cache.load_model(str(tiny_model), config, random_init=True).lm_head.weight)
        draws.append(torch.rand(4))
    assert cache.loads == 1 and torch.equal(weights[0], weights[1]) and torch.equal(draws[0], draws[1])
