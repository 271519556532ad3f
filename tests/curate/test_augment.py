"""`thrifty data augment`: rows marked with their source and kind, originals unchanged, the input's
format and columns kept, seeded synonyms, and the generation plumbing (a fake generator where content is
asserted; the tiny model's random tokens for the real path)."""

import json
import random
import re

import pytest

from tests.conftest import FAQ
from thrifty.cli import main
from thrifty.config.schema import DataConfig
from thrifty.curate.augment.synonyms import STOP_WORDS, WORD, swap_synonyms
from thrifty.data import load_examples, split_examples
from thrifty.data.readers import read_records

QUESTIONS = [r["instruction"] for r in FAQ]


def augment(data, out, *extra) -> int:
    return main(["data", "augment", str(data), "--output", str(out), "--no-progress", *extra])


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def asked(text: str) -> str:
    """The FAQ question of the request at the end of a rendered prompt (the worked examples come before)."""
    return max(QUESTIONS, key=text.rfind)


def fake_paraphrases(calls):
    """Stands in for transformers' generate: a lead-in line and a rewrite for most questions; an answer for
    FAQ[1] (not a question), the reference answer for FAQ[2] (a leak)."""

    def generate(model, tokenizer, texts, options):
        calls.append((len(texts), options.do_sample))
        out = []
        for text in texts:
            question = asked(text)
            if question == QUESTIONS[1]:
                out.append("A demolition permit is needed before tearing down a building.")
            elif question == QUESTIONS[2]:
                out.append(f"How long does it take, given that {FAQ[2]['output'].lower()[:-1]}?")
            else:
                out.append(
                    f"Here is the rewritten question:\nTell me please, {question[0].lower()}{question[1:]}"
                )
        return out

    return generate


def test_paraphrases_are_marked_after_unchanged_originals(
    tiny_model, alpaca_file, tmp_path, monkeypatch, capsys
):
    calls = []
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", fake_paraphrases(calls))
    out = tmp_path / "aug.jsonl"
    code = augment(
        alpaca_file, out, "--model", str(tiny_model), "--paraphrases", "2", "--limit", "4", "--json"
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    originals = read_records(str(alpaca_file))
    written = lines(out)
    assert written[: len(originals)] == originals  # copied as they were, in order
    added = written[len(originals) :]
    assert len(written) == len(originals) + summary["kept"] == summary["rows_written"]
    # Rows 0 and 3 rewrite (twice each, the second a duplicate of the first); 1 answers, 2 leaks.
    assert summary["made"] == 8 and summary["kept"] == 2 and summary["sources"] == 4
    assert summary["kinds"]["paraphrase"]["rejected"] == {
        "duplicate": 2,
        "leaks_answer": 2,
        "not_a_question": 2,
    }
    assert [r["augmented_from"] for r in added] == [0, 3]
    for row in added:
        source = originals[row["augmented_from"]]
        assert row["augmentation"] == "paraphrase" and row["output"] == source["output"]
        assert row["input"] == source["input"] and row["instruction"].startswith("Tell me please, ")
        assert {
            k: v for k, v in row.items() if k not in ("instruction", "augmented_from", "augmentation")
        } == {k: v for k, v in source.items() if k != "instruction"}
    assert calls == [(8, True)]  # one sampled batch of 4 rows x 2
    rejected = lines(tmp_path / "aug.rejected.jsonl")
    assert [(r["augmented_from"], r["reason"]) for r in rejected] == [
        (0, "duplicate"),
        (1, "not_a_question"),
        (1, "not_a_question"),
        (2, "leaks_answer"),
        (2, "leaks_answer"),
        (3, "duplicate"),
    ]
    assert rejected[1]["prompt"] == "A demolition permit is needed before tearing down a building."
    assert json.loads((tmp_path / "aug.augment.json").read_text()) == summary


def test_back_translation_goes_there_and_back(tiny_model, alpaca_file, tmp_path, monkeypatch):
    requests = []

    def generate(model, tokenizer, texts, options):
        requests.extend(texts)
        assert not options.do_sample
        if "into Spanish" in texts[0]:
            return [f"¿Pregunta {QUESTIONS.index(asked(t))}?" for t in texts]
        rows = [int(re.findall(r"Pregunta (\d)", t)[-1]) for t in texts]
        return [f"Translation: Could you say {QUESTIONS[row].lower()}" for row in rows]

    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", generate)
    out = tmp_path / "aug.jsonl"
    assert augment(alpaca_file, out, "--model", str(tiny_model), "--back-translate", "--limit", "2") == 0
    added = lines(out)[len(FAQ) * 5 :]
    assert len(requests) == 4 and "into English" in requests[-1]
    assert [(r["augmented_from"], r["augmentation"]) for r in added] == [
        (0, "back_translate"),
        (1, "back_translate"),
    ]
    assert added[0]["instruction"] == f"Could you say {QUESTIONS[0].lower()}"


def test_tiny_model_runs_every_generating_kind(tiny_model, alpaca_file, tmp_path, capsys):
    # Random weights write random tokens: the filter rejects nearly all. This is the real path end to end.
    out = tmp_path / "aug.jsonl"
    flags = [
        "--paraphrases",
        "1",
        "--back-translate",
        "--pivot",
        "fr",
        "--limit",
        "3",
        "--max-new-tokens",
        "4",
    ]
    assert augment(alpaca_file, out, "--model", str(tiny_model), *flags, "--batch-size", "2", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kinds"]["paraphrase"]["made"] == 3 and summary["kinds"]["back_translate"]["made"] == 3
    for tally in summary["kinds"].values():
        assert tally["kept"] + sum(tally["rejected"].values()) == tally["made"]
    assert len(lines(out)) == len(FAQ) * 5 + summary["kept"] and summary["generator"] == str(tiny_model)


def test_synonym_rows_from_the_faq_file(alpaca_file, tmp_path, capsys):
    out = tmp_path / "aug.jsonl"
    assert augment(alpaca_file, out, "--synonyms", "--seed", "1") == 0
    assert "rows +" in capsys.readouterr().out
    summary = json.loads((tmp_path / "aug.augment.json").read_text())
    assert summary["generator"] is None and summary["made"] == 20  # every row; no model loaded
    added = lines(out)[20:]
    assert added and all(
        r["augmentation"] == "synonyms" and r["instruction"] != QUESTIONS[r["augmented_from"] % 4]
        for r in added
    )
    again = tmp_path / "again.jsonl"
    assert augment(alpaca_file, again, "--synonyms", "--seed", "1") == 0
    assert again.read_text() == out.read_text()  # seeded: same rows


LONG = (
    "Which documents, drawings and certificates must a careful builder submit before the municipal office "
    "approves construction of a large wooden house near the river?"
)


def content_words(text):
    return [w.lower() for w in WORD.findall(text) if w.lower() not in STOP_WORDS]


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_synonyms_are_seeded_and_change_at_most_the_rate(rate):
    runs = {seed: swap_synonyms(LONG, rate, random.Random(seed)) for seed in range(5)}
    assert all(swap_synonyms(LONG, rate, random.Random(s)) == text for s, text in runs.items())
    assert len(set(runs.values())) > 1  # different seeds choose differently
    before = content_words(LONG)
    for text in runs.values():
        after = content_words(text)
        changed = sum(a != b for a, b in zip(before, after, strict=True))
        assert 1 <= changed <= max(1, round(rate * len(before)))


def test_synonyms_leave_names_and_stop_words():
    text = "What does Helsingborg require of the Building Committee?"
    for seed in range(10):
        swapped = swap_synonyms(text, 1.0, random.Random(seed))
        assert (
            "Helsingborg" in swapped and "Building Committee" in swapped and swapped.startswith("What does")
        )


def test_a_chat_file_keeps_its_format_and_columns(tmp_path, capsys):
    rows = [
        {
            "id": i,
            "messages": [
                {"role": "system", "content": "You answer questions about permits."},
                {"role": "user", "content": "Hello."},
                {"role": "assistant", "content": "Hello, how can I help?"},
                {"role": "user", "content": r["instruction"]},
                {"role": "assistant", "content": r["output"]},
            ],
        }
        for i, r in enumerate(FAQ)
    ]
    data = tmp_path / "chat.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "aug.jsonl"
    assert augment(data, out, "--synonyms", "--synonym-rate", "0.5", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "chat" and summary["kept"] >= 1
    written = lines(out)
    assert written[:4] == rows
    for row in written[4:]:
        source = rows[row["augmented_from"]]
        assert set(row) == {"id", "messages", "augmented_from", "augmentation"} and row["id"] == source["id"]
        assert row["messages"][:3] == source["messages"][:3] and row["messages"][4] == source["messages"][4]
        assert (
            row["messages"][3]["role"] == "user"
            and row["messages"][3]["content"] != source["messages"][3]["content"]
        )
    assert load_examples(str(out), DataConfig())[1] == "chat"


def test_sharegpt_rewrites_the_human_turn(tmp_path):
    rows = [
        {
            "conversations": [
                {"from": "human", "value": r["instruction"]},
                {"from": "gpt", "value": r["output"]},
            ]
        }
        for r in FAQ
    ]
    data = tmp_path / "share.json"
    data.write_text(json.dumps(rows))
    out = tmp_path / "aug.json"
    assert augment(data, out, "--synonyms", "--synonym-rate", "0.5") == 0
    written = json.loads(out.read_text())
    assert written[:4] == rows and len(written) > 4
    for row in written[4:]:
        turns = row["conversations"]
        assert turns[1] == rows[row["augmented_from"]]["conversations"][1] and turns[0]["from"] == "human"


def test_csv_output_keeps_columns_and_the_split_keeps_augmented_rows_out_of_eval(tmp_path):
    data = tmp_path / "faq.csv"
    header = "instruction,input,output,topic\n"
    distinct = [(f"{r['instruction'][:-1]} in part {k}?", r["output"]) for k in range(3) for r in FAQ]
    data.write_text(header + "".join(f'"{q}","","{a}",permits\n' for q, a in distinct))
    out = tmp_path / "aug.csv"
    assert augment(data, out, "--synonyms", "--synonym-rate", "0.5") == 0
    assert out.read_text().splitlines()[0] == "instruction,input,output,topic,augmented_from,augmentation"
    examples, fmt = load_examples(str(out), DataConfig())
    assert fmt == "alpaca" and len(examples) > 12
    train, held = split_examples(examples, 0.25, seed=0)
    assert not any("augmented_from" in e for e in held) and len(held) == 3
    sources_in_train = {e["augmented_from"] for e in train if "augmented_from" in e}
    held_rows = {i for i, e in enumerate(examples[:12]) if e in held}
    assert not sources_in_train & held_rows


def test_a_stop_signal_writes_what_was_made(tiny_model, alpaca_file, tmp_path, monkeypatch, capsys):
    import os
    import signal

    calls, before = [], signal.getsignal(signal.SIGTERM)
    rewrite = fake_paraphrases(calls)

    def generate_then_stop(model, tokenizer, texts, options):
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives during the first batch: it still finishes
        return rewrite(model, tokenizer, texts, options)

    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", generate_then_stop)
    out = tmp_path / "aug.jsonl"
    flags = ["--paraphrases", "1", "--batch-size", "1", "--synonyms", "--json"]
    assert augment(alpaca_file, out, "--model", str(tiny_model), *flags) == 75  # EXIT_PREEMPTED
    summary = json.loads(capsys.readouterr().out)
    assert len(calls) == 1 and not summary["complete"]
    assert summary["kinds"]["paraphrase"]["made"] == 1 and summary["kinds"]["synonyms"]["made"] == 20
    assert len(lines(out)) == 20 + summary["kept"] and (tmp_path / "aug.augment.json").is_file()
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


def test_parquet_output_reads_back_and_splits(alpaca_file, tmp_path):
    out = tmp_path / "aug.parquet"
    assert augment(alpaca_file, out, "--synonyms", "--synonym-rate", "0.5") == 0
    records = read_records(str(out))
    assert [r["augmented_from"] for r in records[:20]] == [None] * 20  # originals: null in the column
    examples, _ = load_examples(str(out), DataConfig())
    train, held = split_examples(examples, 0.2, seed=0)
    assert len(held) == 4 and not any("augmented_from" in e for e in held)
    assert len(train) + len(held) <= len(examples)
