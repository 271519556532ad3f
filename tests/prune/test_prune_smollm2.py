"""A pruned real SmolLM2 (2 of 30 blocks dropped; or a third of its query heads and a quarter of its MLP
channels removed) is a model transformers and llama.cpp both run the same: llama.cpp's own converter
writes its f16 GGUF, and greedy tokens match transformers' up to a near-tie."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.export.test_gguf_smollm2 import (
    F16_NATS,
    TOKENS,
    _assert_same_up_to_a_near_tie,
    _hf_greedy,
    _llama,
    _llama_greedy,
    _prompt_ids,
)
from thrifty.cli import main
from thrifty.export.gguf import convert_model

SHAPES = {  # flags -> what config.json and llama.cpp's metadata must then say
    "blocks": (["--layers", "2"], {"num_hidden_layers": 28}, {"llama.block_count": "28"}),
    "width": (
        ["--heads", "0.33", "--mlp", "0.25"],
        {"num_attention_heads": 6, "num_key_value_heads": 3, "head_dim": 64, "intermediate_size": 1152},
        {
            "llama.attention.head_count": "6",
            "llama.attention.head_count_kv": "3",
            "llama.feed_forward_length": "1152",
        },
    ),
}


@pytest.mark.parametrize("kind", SHAPES)
def test_pruned_smollm2_runs_in_transformers_and_llama_cpp_alike(tmp_path, kind):
    flags, config, metadata = SHAPES[kind]
    out = tmp_path / f"smol-{kind}"
    argv = ["prune", "smollm2-135m", *flags, "--calibration-rows", "16", "-o", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    written = json.loads((out / "config.json").read_text())
    assert {k: written[k] for k in config} == config
    gguf = convert_model(out, tmp_path / f"smol-{kind}-f16.gguf", "f16")
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    llm = _llama(gguf)
    assert {k: llm.metadata.get(k) for k in metadata} == metadata
    for ids in _prompt_ids(tokenizer):
        want = _hf_greedy(model, tokenizer, ids)
        assert len(want) >= TOKENS // 2
        got = _llama_greedy(llm, ids, tokenizer.eos_token_id)
        _assert_same_up_to_a_near_tie(got, want, model, ids, F16_NATS)
