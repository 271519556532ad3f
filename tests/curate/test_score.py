"""The scores select and curriculum rank by: the one-pass loss equals the model's own loss, prompt
hidden states do not depend on the answer after them, and the cache returns what was computed."""

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from thrifty.curate import score
from thrifty.data.tokenize import encode_example

EXAMPLES = [
    {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
    for q, a in [
        ("How do I apply for a building permit?", "Submit the application to the municipality."),
        ("What is a demolition permit?", "It is needed before tearing down a building, always."),
        ("Is a notification enough?", "Yes."),
    ]
]


@pytest.fixture(scope="module")
def model_and_rows(tiny_model):
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = [encode_example(e, tokenizer, 128, False)[0] for e in EXAMPLES]
    return model, rows


def test_one_pass_loss_is_the_models_own_loss(model_and_rows):
    model, rows = model_and_rows
    got = score.answer_losses(model, rows, batch_size=2, progress=False)
    for row, loss in zip(rows, got, strict=True):
        with torch.no_grad():
            expected = model(
                input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])
            ).loss
        assert math.isclose(loss, float(expected), rel_tol=1e-4)


def test_prompt_hidden_state_ignores_the_answer(model_and_rows):
    model, rows = model_and_rows
    full = score.mean_hidden(model, rows, progress=False)
    prompts = [
        {"input_ids": r["input_ids"][: next(i for i, lab in enumerate(r["labels"]) if lab != -100)]}
        for r in rows
    ]
    alone = score.mean_hidden(model, prompts, progress=False)
    for a, b in zip(full, alone, strict=True):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-4
        assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)  # L2-normalised


def test_cache_computes_only_the_missing_rows(model_and_rows):
    _, rows = model_and_rows
    calls = []

    def compute(todo):
        calls.append(len(todo))
        return [len(r["input_ids"]) for r in todo]

    first = score.cached_scores("test", "fp", rows[:2], compute)
    again = score.cached_scores("test", "fp", rows, compute)
    assert calls == [2, 1] and again[:2] == first == [len(r["input_ids"]) for r in rows[:2]]
    assert score.cached_scores("test", "other-model", rows[:1], compute) == first[:1] and calls == [2, 1, 1]
