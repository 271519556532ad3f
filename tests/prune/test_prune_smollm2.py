"""A pruned real SmolLM2 (2 of 30 blocks dropped) is a model transformers and llama.cpp both run the same:
llama.cpp's own converter writes its f16 GGUF, and greedy tokens match transformers' up to a near-tie."""

import json

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


def test_pruned_smollm2_runs_in_transformers_and_llama_cpp_alike(tmp_path):
    out = tmp_path / "smol-28l"
    argv = ["prune", "smollm2-135m", "--layers", "2", "--calibration-rows", "16", "-o", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    report = json.loads((out / "prune.json").read_text())
    assert (
        report["layers_after"] == 28
        and json.loads((out / "config.json").read_text())["num_hidden_layers"] == 28
    )
    gguf = convert_model(out, tmp_path / "smol-28l-f16.gguf", "f16")
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    llm = _llama(gguf)
    assert llm.metadata.get("llama.block_count") == "28"
    for ids in _prompt_ids(tokenizer):
        want = _hf_greedy(model, tokenizer, ids)
        assert len(want) >= TOKENS // 2
        got = _llama_greedy(llm, ids, tokenizer.eos_token_id)
        _assert_same_up_to_a_near_tie(got, want, model, ids, F16_NATS)
