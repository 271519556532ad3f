"""QLoRA on layers narrower than bitsandbytes' 4-bit blocks: they stay plain nn.Linear (bnb's CPU
AVX512-BF16 eval path crashes on them), the wide ones are quantized, and training runs."""

import math

import torch

from tests.conftest import save_tiny_model
from thrifty.config import load_config
from thrifty.models.load import load_model
from thrifty.train.run import train


def _note(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("note: qlora:")]


def test_only_the_narrow_linears_stay_unquantized(tmp_path, capsys):
    from bitsandbytes.nn import Linear4bit

    # hidden 64 fits the 64-wide blocks; down_proj reads the 96-wide intermediate, which does not.
    folder = save_tiny_model(tmp_path / "m", hidden=64, intermediate=96)
    config = load_config(None, [f"model.name={folder}"]).model
    model = load_model(str(folder), config, "nf4")
    layer = model.model.layers[0]
    assert type(layer.mlp.down_proj) is torch.nn.Linear
    assert type(model.lm_head) is torch.nn.Linear  # transformers' own skips survive the list we pass
    for wide in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.mlp.gate_proj, layer.mlp.up_proj):
        assert isinstance(wide, Linear4bit)
    (note,) = _note(capsys)
    assert "2 of 14 linear layers" in note and "model.layers.0.mlp.down_proj" in note


def test_all_narrow_loads_unquantized_with_a_note(tmp_path, capsys):
    from bitsandbytes.nn import Linear4bit

    folder = save_tiny_model(tmp_path / "m", hidden=32, intermediate=32)
    config = load_config(None, [f"model.name={folder}"]).model
    model = load_model(str(folder), config, "nf4")
    assert not any(isinstance(m, Linear4bit) for m in model.modules())
    (note,) = _note(capsys)
    assert note.startswith("note: qlora: all 14 linear layers")


def test_qlora_trains_on_the_32_wide_tiny_model(tiny_model, alpaca_file, tmp_path, capsys):
    from bitsandbytes.nn import Linear4bit

    config = load_config(
        None,
        [
            f"model.name={tiny_model}",
            "method.name=qlora",
            f"data.path={alpaca_file}",
            "data.max_seq_len=64",
            "train.max_steps=2",
            "train.micro_batch_size=4",
            f"output.dir={tmp_path / 'run'}",
        ],
    )
    result = train(config, progress=False)
    assert result.summary["steps"] == 2
    assert (result.run_dir / "adapter").is_dir()
    # LoRA wraps each target: the frozen base layer inside is plain where narrow, 4-bit where wide.
    layer = result.model.get_base_model().model.layers[0]
    assert type(layer.self_attn.q_proj.base_layer) is torch.nn.Linear
    assert isinstance(layer.mlp.down_proj.base_layer, Linear4bit)  # in 64, out 32: fits
    (note,) = _note(capsys)
    assert "12 of 14 linear layers" in note and "model.layers.0.self_attn.q_proj" in note
    assert math.isfinite(result.summary["train_loss"])
