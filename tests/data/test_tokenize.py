import json
import multiprocessing
import os
import queue
import time
from pathlib import Path

import pytest

from thrifty.data.template import render_prompt
from thrifty.data.tokenize import IGNORE_INDEX, check_max_seq_len, encode_all, encode_cached, encode_example
from thrifty.errors import UserError

# torch and transformers are imported where they are used: the cache-race workers below are spawned
# processes that import this module, and should start in well under a second.

QA = {
    "messages": [
        {"role": "user", "content": "How do I apply for a building permit?"},
        {"role": "assistant", "content": "Submit the application to the municipality."},
    ]
}


def _tokenizer(folder):
    from thrifty.config.schema import ModelConfig
    from thrifty.models.load import load_tokenizer

    return load_tokenizer(str(folder), ModelConfig(name=str(folder)))


@pytest.fixture(scope="module")
def chat_tok(tiny_model):
    return _tokenizer(tiny_model)


@pytest.fixture(scope="module")
def plain_tok(tiny_model_plain):
    return _tokenizer(tiny_model_plain)


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


ROUNDS = 8  # distinct keys, each written by both workers at the same moment


class WordTokenizer:
    """As much of a fast tokenizer as encode_cached uses on {"text": ...} examples, without transformers."""

    chat_template, eos_token, bos_token, is_fast, backend_tokenizer = None, "</s>", None, True, None

    def get_vocab(self) -> dict[str, int]:
        return {}

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False):
        ids = [len(word) for word in text.split()]
        return {"input_ids": ids, "offset_mapping": [(0, 0)] * len(ids)}


def _examples(round_: int) -> list[dict]:
    return [{"text": f"round {round_} example {n} " + "word " * 60} for n in range(300)]


def _race_writer(home: str, tokenizer, barrier, results) -> None:
    """One sweep worker: each round, a cold cache and the same key as the other worker, at once."""
    os.environ["THRIFTY_HOME"] = home
    try:
        for round_ in range(ROUNDS):
            barrier.wait(timeout=30)
            rows, stats, _hit = encode_cached(_examples(round_), tokenizer, 128, False, None)
            results.put((round_, len(rows), stats.examples))
    except Exception as exc:  # reported to the test, which fails with it; the other worker stops too
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}", None))


def _race_reader(home: str, stop, results) -> None:
    """Reads every cache file it can see while the writers run: each must be whole, valid JSON."""
    seen = 0
    try:
        while not stop.is_set():
            for path in Path(home, "tokenized").glob("*/rows.json"):
                try:
                    text = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue
                payload = json.loads(text)
                assert len(payload["rows"]) == 300, len(payload["rows"])
                seen += 1
        results.put(("reader", seen, None))
    except Exception as exc:
        results.put(("error", f"reader {type(exc).__name__}: {exc}", None))


def test_two_workers_writing_the_same_key_at_once_never_break_the_cache(tmp_path):
    # Two sweep trials on one machine tokenize the same data together; neither may fail or clobber
    # the other, and a third process reading the cache meanwhile never sees a partial entry.
    spawn = multiprocessing.get_context("spawn")
    home = str(tmp_path / "home")
    barrier, results, stop = spawn.Barrier(2), spawn.Queue(), spawn.Event()
    writers = [
        spawn.Process(target=_race_writer, args=(home, WordTokenizer(), barrier, results)) for _ in range(2)
    ]
    reader = spawn.Process(target=_race_reader, args=(home, stop, results))
    for process in (*writers, reader):
        process.start()
    for process in writers:
        process.join(120)
    time.sleep(0.2)
    stop.set()
    reader.join(60)
    got = []
    while len(got) < 2 * ROUNDS + 1:
        try:
            got.append(results.get(timeout=2))
        except queue.Empty:
            break
    assert [g[1] for g in got if g[0] == "error"] == []
    assert sorted(g for g in got if g[0] != "reader") == sorted(
        (r, 300, 300) for r in range(ROUNDS) for _ in "ab"
    )
    assert next(g[1] for g in got if g[0] == "reader") > 0  # the reader did read entries
    for process in (*writers, reader):
        assert process.exitcode == 0
    cache = Path(home, "tokenized")
    assert sorted(p.name for p in cache.iterdir() if not p.is_dir()) == []  # no temporary file is left
    assert len(list(cache.glob("*/rows.json"))) == ROUNDS


def test_a_damaged_cache_entry_is_rebuilt(chat_tok):
    rows, _, hit = encode_cached([QA], chat_tok, 300, False, None)
    assert hit is False
    from thrifty.data.tokenize import cache_key
    from thrifty.paths import tokenized_cache_dir

    entry = tokenized_cache_dir() / cache_key([QA], chat_tok, 300, False, None) / "rows.json"
    entry.write_text('{"rows": [[1, 2')  # an older thrifty killed mid-write, or a full disk
    again, _, hit = encode_cached([QA], chat_tok, 300, False, None)
    assert (again, hit) == (rows, False) and json.loads(entry.read_text())["rows"] == rows


def test_collator_pads_right_and_masks_padding():
    from thrifty.data.collate import PadCollator

    batch = PadCollator(pad_token_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
