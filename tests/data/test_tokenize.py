import pytest

from thrifty.config.schema import ModelConfig
from thrifty.data.collate import PadCollator
from thrifty.data.template import render_prompt
from thrifty.data.tokenize import IGNORE_INDEX, check_max_seq_len, encode_all, encode_cached, encode_example
from thrifty.errors import UserError
from thrifty.models.load import load_tokenizer

QA = {
    "messages": [
        {"role": "user", "content": "How do I apply for a building permit?"},
        {"role": "assistant", "content": "Submit the application to the municipality."},
    ]
}


@pytest.fixture(scope="module")
def chat_tok(tiny_model):
    return load_tokenizer(str(tiny_model), ModelConfig(name=str(tiny_model)))


@pytest.fixture(scope="module")
def plain_tok(tiny_model_plain):
    return load_tokenizer(str(tiny_model_plain), ModelConfig(name=str(tiny_model_plain)))


def _split(row):
    first = next(i for i, label in enumerate(row["labels"]) if label != IGNORE_INDEX)
    return first, row["input_ids"][:first], [t for t in row["labels"] if t != IGNORE_INDEX]


def test_masked_positions_are_exactly_the_prompt(chat_tok):
    row, truncated = encode_example(QA, chat_tok, 512, train_on_inputs=False)
    first, prompt_ids, learned = _split(row)
    assert not truncated
    assert chat_tok.decode(prompt_ids) == render_prompt(QA["messages"][:1], chat_tok)
    assert all(label != IGNORE_INDEX for label in row["labels"][first:])  # one answer: the rest is learned
    assert chat_tok.decode(learned) == "Submit the application to the municipality.<|im_end|>\n"


def test_plain_template_masks_prompt_and_learns_eos(plain_tok):
    row, _ = encode_example(QA, plain_tok, 512, train_on_inputs=False)
    _, prompt_ids, learned = _split(row)
    assert plain_tok.decode(prompt_ids).endswith("### Response:\n")
    assert plain_tok.decode(learned) == "Submit the application to the municipality.<|endoftext|>"


def test_multi_turn_learns_every_assistant_turn_only(chat_tok):
    convo = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Permit?"},
            {"role": "assistant", "content": "Apply."},
        ]
    }
    row, _ = encode_example(convo, chat_tok, 512, train_on_inputs=False)
    learned = [t for t in row["labels"] if t != IGNORE_INDEX]
    assert chat_tok.decode(learned) == "Hello<|im_end|>\nApply.<|im_end|>\n"


def test_train_on_inputs_and_text_learn_everything(chat_tok):
    row, _ = encode_example(QA, chat_tok, 512, train_on_inputs=True)
    assert row["labels"] == row["input_ids"]
    row, _ = encode_example({"text": "The permit is ten weeks."}, chat_tok, 512, train_on_inputs=False)
    assert row["labels"] == row["input_ids"]
    assert row["input_ids"][-1] == chat_tok.eos_token_id


def test_truncation_is_counted_and_empty_examples_dropped(chat_tok):
    row, _ = encode_example(QA, chat_tok, 512, train_on_inputs=False)
    first, _, _ = _split(row)
    rows, stats = encode_all(
        [QA, QA], chat_tok, max_seq_len=first + 2, train_on_inputs=False, system_prompt=None
    )
    assert stats.truncated == 2 and stats.dropped == 0
    assert all(len(r["input_ids"]) == first + 2 for r in rows)
    rows, stats = encode_all([QA], chat_tok, max_seq_len=first, train_on_inputs=False, system_prompt=None)
    assert rows == [] and stats.dropped == 1


def test_max_seq_len_smaller_than_template_is_refused(chat_tok):
    with pytest.raises(UserError, match="data.max_seq_len=8 is too small: the prompt template alone takes"):
        check_max_seq_len(chat_tok, 8, "You are a long and detailed system prompt for a helpful assistant.")


def test_tokenization_cache_hits_on_same_inputs_and_misses_on_change(chat_tok):
    first = encode_cached([QA], chat_tok, 512, False, None)
    again = encode_cached([QA], chat_tok, 512, False, None)
    other = encode_cached([QA], chat_tok, 256, False, None)
    assert first[2] is False and again[2] is True and other[2] is False
    assert again[0] == first[0]


def test_collator_pads_right_and_masks_padding():
    batch = PadCollator(pad_token_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
