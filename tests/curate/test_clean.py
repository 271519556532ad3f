"""`thrifty data clean` through the real CLI: kept + removed is the input row for row, the output keeps
the input's format and columns, leakage and PII through the flags, and bad input ends in exit 2 with
nothing written."""

import csv
import json
from pathlib import Path

import pytest

from tests.curate.test_clean_filters import FAQ_EN, FAQ_SV, change_words
from thrifty.cli import main
from thrifty.curate.rows import read_table


@pytest.fixture(scope="module")
def faq() -> list[dict]:
    return read_table(FAQ_EN).records


def dirty(faq: list[dict]) -> list[dict]:
    """40 real rows with an id column, plus an exact copy, a near copy, a short answer, a looping
    answer and a Swedish row: rows 40-44, one per rule."""
    records = [{"id": f"r{i}", **r} for i, r in enumerate(faq[:40])]
    swedish = read_table(FAQ_SV).records[50]
    records += [
        {**records[3], "id": "copy", "instruction": records[3]["instruction"].lower()},
        {**records[0], "id": "near", "output": change_words(records[0]["output"], 1)},
        {"id": "short", "instruction": "Is it needed?", "input": "", "output": "Yes."},
        {"id": "loop", "instruction": "What now?", "input": "", "output": "Call us today. " * 6},
        {"id": "sv", "instruction": swedish["instruction"], "input": "", "output": swedish["output"]},
    ]
    return records


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path: Path, records: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def clean(data, out, *extra) -> int:
    return main(["data", "clean", str(data), "--output", str(out), "--no-progress", *extra])


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def restored(kept: list[dict], removed: list[dict]) -> list[dict]:
    """The input again: removed records put back at their row numbers between the kept ones."""
    rows = list(kept)
    for line in sorted(removed, key=lambda r: r["row"]):
        rows.insert(line["row"], line["record"])
    return rows


EXPECTED = {40: ("exact", 3), 41: ("near-dup", 0), 42: ("length", None), 43: ("repetition", None)}
EXPECTED[44] = ("language", None)


def test_kept_plus_removed_is_the_input_for_jsonl(faq, tmp_path, capsys):
    records = dirty(faq)
    data = write_jsonl(tmp_path / "train.jsonl", records)
    before = data.read_bytes()
    assert clean(data, tmp_path / "clean.jsonl", "--lang", "en", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    kept, removed = jsonl(tmp_path / "clean.jsonl"), jsonl(tmp_path / "clean.removed.jsonl")
    assert {r["row"]: (r["rule"], r["duplicate_of"]) for r in removed} == EXPECTED
    assert restored(kept, removed) == records
    assert all(list(r) == ["id", "instruction", "input", "output"] for r in kept)  # the user's columns
    assert summary["removed_by_rule"] == {
        "exact": 1,
        "near-dup": 1,
        "length": 1,
        "repetition": 1,
        "language": 1,
    }
    assert (summary["rows"], summary["kept"], summary["removed"]) == (45, 40, 5)
    assert json.loads((tmp_path / "clean.clean.json").read_text()) == summary
    assert data.read_bytes() == before


def test_kept_plus_removed_is_the_input_for_csv(faq, tmp_path):
    records = dirty(faq)
    data = write_csv(tmp_path / "train.csv", records)
    assert clean(data, tmp_path / "clean.csv", "--lang", "en") == 0
    with (tmp_path / "clean.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["id", "instruction", "input", "output"]
        kept = list(reader)
    removed = jsonl(tmp_path / "clean.removed.jsonl")
    assert {r["row"] for r in removed} == set(EXPECTED)
    assert restored(kept, removed) == records


def test_the_output_suffix_picks_the_file_type(faq, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", dirty(faq))
    assert clean(data, tmp_path / "clean.parquet") == 0
    kept = read_table(str(tmp_path / "clean.parquet"))
    assert len(kept) == 41 and kept.format == "alpaca"  # no --lang: the Swedish row stays


def test_leakage_against_an_eval_file(faq, tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", faq[:60])
    held = write_jsonl(
        tmp_path / "eval.jsonl", [faq[100], faq[10], {**faq[20], "output": faq[20]["output"] + "!"}]
    )
    assert clean(train, tmp_path / "clean.jsonl", "--eval", str(held), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    removed = jsonl(tmp_path / "clean.removed.jsonl")
    assert [(r["row"], r["rule"], r["duplicate_of"]) for r in removed] == [
        (10, "leakage", 1),
        (20, "leakage", 2),
    ]
    assert summary["removed_by_rule"]["leakage"] == 2 and summary["kept"] == 58


def test_pii_is_scrubbed_in_kept_rows_and_counted(faq, tmp_path, capsys):
    records = [dict(r) for r in faq[:10]]
    records[2]["output"] += " Mail info@zaragoza.example or call +46 70 123 45 67."
    records[4]["input"] = "Pay to SE45 5000 0000 0583 9825 7466."
    data = write_jsonl(tmp_path / "train.jsonl", records)
    assert clean(data, tmp_path / "clean.jsonl", "--pii", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    kept = jsonl(tmp_path / "clean.jsonl")
    assert summary["pii"] == {"email": 1, "phone": 1, "iban": 1}
    assert kept[2]["output"].endswith(" Mail [EMAIL] or call [PHONE].")
    assert kept[4]["input"] == "Pay to [IBAN]."
    assert [k for i, k in enumerate(kept) if i not in (2, 4)] == [
        r for i, r in enumerate(records) if i not in (2, 4)
    ]


def test_lengths_in_model_tokens(tiny_model, alpaca_file, tmp_path, capsys):
    # "Submit the application to the municipality." is 6 words but more tiny-BPE tokens
    args = ["--min-answer-tokens", "8", "--skip", "exact,near-dup", "--json"]
    assert clean(alpaca_file, tmp_path / "words.jsonl", *args) == 0
    by_words = json.loads(capsys.readouterr().out)
    assert clean(alpaca_file, tmp_path / "tokens.jsonl", *args, "--model", str(tiny_model)) == 0
    by_tokens = json.loads(capsys.readouterr().out)
    assert by_words["settings"]["length_unit"] == "words" and by_tokens["settings"]["length_unit"] == "tokens"
    assert by_words["kept"] == 10 and by_tokens["kept"] > by_words["kept"]


def test_terminal_table(faq, tmp_path, capsys):
    data = write_jsonl(tmp_path / "train.jsonl", dirty(faq))
    assert clean(data, tmp_path / "clean.jsonl") == 0
    out = capsys.readouterr().out
    assert "removed: exact" in out and "kept" in out and "41" in out


def put(tmp: Path, name: str, content: str | bytes) -> str:
    path = tmp / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return str(path)


# name -> (temp folder, a good data file) -> the arguments after `thrifty data clean`
BAD = {
    "missing file": lambda t, g: [str(t / "nope.jsonl")],
    "bad extension": lambda t, g: [put(t, "data.txt", "hello\n")],
    "malformed line": lambda t, g: [put(t, "bad.jsonl", '{"instruction": "a", "output": "b"}\n{oops\n')],
    "binary file": lambda t, g: [put(t, "bin.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00")],
    "empty file": lambda t, g: [put(t, "empty.jsonl", "")],
    "unknown format": lambda t, g: [put(t, "cols.jsonl", '{"q": "a", "a": "b"}\n')],
    "near-dup above 1": lambda t, g: [str(g), "--near-dup", "1.5"],
    "output is the input": lambda t, g: [str(g), "--output", str(g)],
    "output folder missing": lambda t, g: [str(g), "--output", str(t / "no" / "out.jsonl")],
    "unknown output type": lambda t, g: [str(g), "--output", str(t / "out.txt")],
    "unknown language": lambda t, g: [str(g), "--lang", "english"],
    "unknown rule": lambda t, g: [str(g), "--skip", "spelling"],
    "unknown pii region": lambda t, g: [str(g), "--pii", "--pii-regions", "XX"],
    "max below min": lambda t, g: [str(g), "--max-answer-tokens", "2"],
    "missing eval": lambda t, g: [str(g), "--eval", str(t / "nope-eval.jsonl")],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_exit_2_and_nothing_written(name, alpaca_file, tmp_path, capsys):
    argv = BAD[name](tmp_path, alpaca_file)
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "out.jsonl")]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = main(["data", "clean", *argv, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing new, nothing changed (the input least of all)


def test_format_choices_are_trainings():
    from typing import get_args

    from thrifty.config.schema import DataFormat
    from thrifty.curate.rows import FORMATS

    assert set(FORMATS) == set(get_args(DataFormat))
