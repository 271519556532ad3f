"""`thrifty data augment` refusals: one line on stderr, exit 2, the input untouched, nothing written, and
no model loaded (every check comes first)."""

import hashlib
import json

import pytest

from thrifty.cli import main


@pytest.fixture
def no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr("thrifty.curate.generator.load_generator", refuse)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


CASES = {
    "no augmenter": (["--output", "{out}"], "choose what to make"),
    "zero paraphrases": (["--output", "{out}", "--paraphrases", "0"], "--paraphrases 0: must be a positive"),
    "output is input": (["--output", "{data}", "--synonyms"], "the output is the input"),
    "pivot alone": (["--output", "{out}", "--synonyms", "--pivot", "fr"], "only used with --back-translate"),
    "rate alone": (
        ["--output", "{out}", "--paraphrases", "1", "--synonym-rate", "0.2"],
        "only used with --synonyms",
    ),
    "rate above 1": (
        ["--output", "{out}", "--synonyms", "--synonym-rate", "1.5"],
        "must be above 0 and at most 1",
    ),
    "similarity window": (
        ["--output", "{out}", "--synonyms", "--min-similarity", "0.9", "--max-similarity", "0.5"],
        "must be below --max-similarity",
    ),
    "unknown output type": (["--output", "{tmp}/out.txt", "--synonyms"], "unsupported output type"),
    "missing folder": (["--output", "{tmp}/nowhere/out.jsonl", "--synonyms"], "no such folder"),
    "missing generator": (
        ["--output", "{out}", "--paraphrases", "2", "--generator", "{tmp}/no-model"],
        "not found",
    ),
    "zero batch": (["--output", "{out}", "--paraphrases", "1", "--batch-size", "0"], "--batch-size 0"),
}


@pytest.mark.parametrize("case", CASES)
def test_refused_in_one_line(case, alpaca_file, tmp_path, capsys, no_model):
    argv, message = CASES[case]
    before = digest(alpaca_file)
    names = {"out": tmp_path / "out.jsonl", "data": alpaca_file, "tmp": tmp_path}
    argv = [a.format(**names) for a in argv]
    assert main(["data", "augment", str(alpaca_file), "--no-progress", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
    assert digest(alpaca_file) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [alpaca_file.name]  # nothing written


def test_plain_text_has_no_prompt(tmp_path, capsys, no_model):
    data = tmp_path / "notes.jsonl"
    data.write_text(json.dumps({"text": "Some notes."}) + "\n")
    assert main(["data", "augment", str(data), "--output", str(tmp_path / "o.jsonl"), "--synonyms"]) == 2
    assert "plain text has no prompt" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_summary_may_not_overwrite_the_input(tmp_path, capsys, no_model):
    # OUTPUT out.jsonl writes out.augment.json beside it: a data file of that name is protected too.
    data = tmp_path / "out.augment.json"
    data.write_text(json.dumps([{"instruction": "Q?", "output": "A."}]))
    before = digest(data)
    assert main(["data", "augment", str(data), "--output", str(tmp_path / "out.jsonl"), "--synonyms"]) == 2
    assert "the output is the input" in capsys.readouterr().err and digest(data) == before
