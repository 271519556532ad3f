"""The seeded hold-out of a file with `thrifty data augment` rows: augmented rows never in eval, and never in
train when the row they were made from is held out; the originals split as the file without them would."""

import json

import pytest

from thrifty.config.schema import DataConfig
from thrifty.data import held_out_examples, load_examples, split_examples
from thrifty.data.augmented import AUGMENTED
from thrifty.errors import UserError

ORIGINALS = [{"instruction": f"Question {i}?", "output": f"Answer {i}."} for i in range(40)]


def augmented_file(tmp_path, per_row=2):
    rows = list(ORIGINALS)
    for k in range(per_row):
        rows += [{**r, "instruction": f"Rewrite {k} of {i}?", AUGMENTED: i} for i, r in enumerate(ORIGINALS)]
    path = tmp_path / "augmented.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def question(example):
    return example["messages"][0]["content"]


def test_augmented_rows_train_only_with_their_source(tmp_path):
    examples, _ = load_examples(str(augmented_file(tmp_path)), DataConfig())
    train, held = split_examples(examples, 0.25, seed=3)
    assert len(held) == 10 and not any(AUGMENTED in e for e in held)
    held_rows = {int(question(e).split()[1].rstrip("?")) for e in held}
    train_sources = {e[AUGMENTED] for e in train if AUGMENTED in e}
    assert not train_sources & held_rows  # no rewrite of an eval question is trained on
    assert train_sources == set(range(40)) - held_rows  # every other rewrite is
    assert len(train) == 30 + 2 * 30


def test_originals_split_as_without_the_augmented_rows(tmp_path):
    # The held-out set is the plain file's, so scores before and after augmenting compare.
    examples, _ = load_examples(str(augmented_file(tmp_path)), DataConfig())
    plain = [{"messages": e["messages"]} for e in examples[:40]]
    assert split_examples(examples, 0.25, seed=3)[1] == split_examples(plain, 0.25, seed=3)[1]
    config = DataConfig(path=str(augmented_file(tmp_path)), val_fraction=0.25)
    assert held_out_examples(config, seed=3)[0] == split_examples(plain, 0.25, seed=3)[1]


def test_raw_records_from_csv_split_the_same_way(tmp_path):
    # The sweep's --search-fraction splits raw records; CSV gives "" for originals and strings for rows.
    records = [{**r, AUGMENTED: ""} for r in ORIGINALS] + [
        {**r, "instruction": "again?", AUGMENTED: str(i)} for i, r in enumerate(ORIGINALS)
    ]
    train, held = split_examples(records, 0.25, seed=3)
    held_rows = {ORIGINALS.index({k: v for k, v in e.items() if k != AUGMENTED}) for e in held}
    assert all(e[AUGMENTED] == "" for e in held) and len(held) == 10
    assert {int(e[AUGMENTED]) for e in train if e[AUGMENTED]} == set(range(40)) - held_rows


def test_a_chain_of_augmentations_follows_its_original(tmp_path):
    items = [{"text": "a"}, {"text": "b"}, {"text": "a2", AUGMENTED: 0}, {"text": "a3", AUGMENTED: 2}]
    for seed in range(6):
        train, held = split_examples(items, 0.5, seed)
        texts = {e["text"] for e in train}
        assert len(held) == 1
        assert texts == ({"b"} if held[0]["text"] == "a" else {"a", "a2", "a3"})


def test_a_bad_mark_is_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"instruction": "Q?", "output": "A.", AUGMENTED: "first"}) + "\n")
    with pytest.raises(UserError, match="record 1: augmented_from must be the row number"):
        load_examples(str(path), DataConfig())


def test_only_augmented_rows_cannot_be_split():
    with pytest.raises(UserError, match="at least 2 examples"):
        split_examples([{"text": "a"}, {"text": "b", AUGMENTED: 0}], 0.5, seed=0)


def test_tokenizing_ignores_the_mark(tiny_model):
    from thrifty.config.schema import ModelConfig
    from thrifty.data.tokenize import encode_example
    from thrifty.models.load import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model), ModelConfig(name=str(tiny_model)))
    plain = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    assert encode_example({**plain, AUGMENTED: 0}, tokenizer, 64, False) == encode_example(
        plain, tokenizer, 64, False
    )
