import pytest

from thrifty.config.schema import MethodConfig, ModelConfig
from thrifty.errors import UserError
from thrifty.methods import apply_method, method_names
from thrifty.models.load import load_model

# Tiny Llama: hidden 32, intermediate 64, 4 heads of 8 dims, 2 KV heads (k/v project to 16), 2 layers.
HIDDEN, INTER, KV, LAYERS = 32, 64, 16, 2


def _model(tiny_model):
    return load_model(str(tiny_model), ModelConfig(name=str(tiny_model)))


def test_registry_has_lora():
    assert "lora" in method_names()


@pytest.mark.parametrize(
    ("targets", "rank", "expected"),
    [
        # LoRA adds r * (in + out) per adapted linear layer.
        (["q_proj", "v_proj"], 8, LAYERS * 8 * ((HIDDEN + HIDDEN) + (HIDDEN + KV))),
        ("all-linear", 4, LAYERS * 4 * (2 * (HIDDEN + HIDDEN) + 2 * (HIDDEN + KV) + 3 * (HIDDEN + INTER))),
    ],
)
def test_trainable_parameters_are_exact(tiny_model, targets, rank, expected):
    model = apply_method(_model(tiny_model), MethodConfig(rank=rank, target_modules=targets))
    trainable, total = model.get_nb_trainable_parameters()
    assert trainable == expected
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())


def test_dora_adds_a_magnitude_vector_per_layer(tiny_model):
    lora = apply_method(_model(tiny_model), MethodConfig(rank=4, target_modules=["q_proj"]))
    dora = apply_method(_model(tiny_model), MethodConfig(rank=4, target_modules=["q_proj"], use_dora=True))
    assert dora.get_nb_trainable_parameters()[0] - lora.get_nb_trainable_parameters()[0] == LAYERS * HIDDEN


def test_rslora_scales_by_sqrt_rank(tiny_model):
    model = apply_method(
        _model(tiny_model), MethodConfig(rank=16, alpha=16, target_modules=["q_proj"], use_rslora=True)
    )
    layer = model.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(16 / 16**0.5)


def test_targets_that_match_nothing_are_a_user_error(tiny_model):
    with pytest.raises(UserError, match="method.target_modules"):
        apply_method(_model(tiny_model), MethodConfig(target_modules=["no_such_proj"]))
