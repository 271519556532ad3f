"""Every method x the tiny model: trains, saves, reloads with identical logits, generates, and reports
exactly the trainable parameters the planner predicts (peft's method x model matrix is the example)."""

import pytest
import torch

from thrifty.config import load_config
from thrifty.methods import get_method, method_names
from thrifty.models.load import load_model
from thrifty.plan.planner import PlanRequest, make_plan
from thrifty.train.run import train

EXTRA = {
    "freeze": ["method.trainable_layers=1"],
    "prefix": ["method.num_virtual_tokens=4"],
    "prompt": ["method.num_virtual_tokens=4"],
    "ptuning": ["method.num_virtual_tokens=4", "method.encoder_hidden_size=16"],
}


def _reload(name, config, run_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    method = get_method(name)
    if not method.adapter:
        return AutoModelForCausalLM.from_pretrained(run_dir / "model")
    base = load_model(config.model.name, config.model, method.quantization)
    return PeftModel.from_pretrained(base, run_dir / "adapter")


@pytest.mark.parametrize("name", method_names())
def test_method_trains_saves_reloads_and_generates(name, tiny_model, tiny_model_wide, alpaca_file, tmp_path):
    model_dir = tiny_model_wide if name == "qlora" else tiny_model  # hidden 64: all really 4-bit
    config = load_config(
        None,
        [
            f"model.name={model_dir}",
            f"method.name={name}",
            f"data.path={alpaca_file}",
            "data.max_seq_len=64",
            "train.max_steps=2",
            "train.micro_batch_size=4",
            "train.learning_rate=1e-3",
            "method.rank=4",
            f"output.dir={tmp_path / 'run'}",
            *EXTRA.get(name, []),
        ],
    )
    result = train(config, progress=False)
    summary = result.summary
    assert summary["steps"] == 2 and summary["method"] == name

    plan = make_plan(
        PlanRequest(model=str(model_dir), method=config.method, seq_len=64, device="cpu", tokens=1000)
    )
    assert summary["trainable_params"] == plan["trainable_params"] > 0
    if name in ("full", "scratch"):
        assert summary["trainable_params"] == summary["total_params"]

    ids = torch.tensor([[5, 6, 7, 8, 9, 10]])
    trained = result.model.eval()
    reloaded = _reload(name, config, result.run_dir).eval()
    # bitsandbytes (0.50, CPU) re-quantizes a 4-bit layer's double-quant absmax in place when its
    # state_dict is taken, so after saving, the in-memory QLoRA model drifts by ~3e-3 from what
    # was trained; a fresh load of base + adapter is the trained model (checked: equal before save).
    tolerance = 1e-2 if get_method(name).quantization == "nf4" else 1e-4
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded(input_ids=ids).logits, trained(input_ids=ids).logits, rtol=tolerance, atol=tolerance
        )
        out = reloaded.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=3,
            do_sample=False,
            pad_token_id=0,
        )
    assert out.shape[1] > ids.shape[1]


def test_scratch_starts_from_random_weights(tiny_model, alpaca_file, tmp_path):
    from transformers import AutoModelForCausalLM

    overrides = [
        f"model.name={tiny_model}",
        f"data.path={alpaca_file}",
        "train.max_steps=1",
        "train.learning_rate=1e-12",
        "method.name=scratch",
        "data.max_seq_len=64",
    ]
    result = train(load_config(None, [*overrides, f"output.dir={tmp_path / 's'}"]), progress=False)
    pretrained = AutoModelForCausalLM.from_pretrained(tiny_model)
    name = "model.layers.0.mlp.down_proj.weight"
    assert not torch.allclose(result.model.state_dict()[name], pretrained.state_dict()[name])


def test_freeze_trains_only_the_last_layer(tiny_model, alpaca_file, tmp_path):
    overrides = [
        f"model.name={tiny_model}",
        f"data.path={alpaca_file}",
        "train.max_steps=1",
        "method.name=freeze",
        "method.trainable_layers=1",
        "data.max_seq_len=64",
        f"output.dir={tmp_path / 'f'}",
    ]
    model = train(load_config(None, overrides), progress=False).model
    trainable = {n.split(".")[2] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"1"}  # model.layers.1.*
