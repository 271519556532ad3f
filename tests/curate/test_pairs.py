"""`thrifty data pairs`: rows from the tiny model, resume after an interruption, skips and refusals."""

import json

import pytest

from tests.conftest import FAQ
from thrifty.cli import main
from thrifty.curate.resume import JobFiles

REFERENCES = {r["instruction"]: r["output"] for r in FAQ}


def pairs(data, out, model, *extra) -> int:
    return main(
        ["data", "pairs", str(data), "--output", str(out), "--model", str(model), "--no-progress", *extra]
    )


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def fake_generate(equal_for=()):
    """Stands in for transformers' generate: a fixed answer per prompt (the reference for the
    instructions in `equal_for`), and a record of the batches it was asked."""
    calls = []

    def generate(model, tokenizer, texts, options):
        calls.append(len(texts))
        out = []
        for text in texts:
            asked = next(q for q in REFERENCES if q in text)
            out.append(REFERENCES[asked] if asked in equal_for else f"no idea about {asked[:12]}")
        return out

    return generate, calls


def test_greedy_pairs_from_the_tiny_model(tiny_model, alpaca_file, tmp_path, capsys):
    from thrifty.config.schema import DataConfig
    from thrifty.data.preference import load_pairs
    from thrifty.inference.generate import GenerationOptions, generate, load_for_generation

    out = tmp_path / "pairs.jsonl"
    assert (
        pairs(
            alpaca_file,
            out,
            tiny_model,
            "--limit",
            "5",
            "--batch-size",
            "2",
            "--max-new-tokens",
            "5",
            "--json",
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["complete"] and summary["examples"] == 5 and summary["resumed_from"] == 0
    assert summary["rows_written"] + summary["skipped_equal"] == 5
    written = rows(out)
    assert len(written) == summary["rows_written"] and all(
        set(r) == {"prompt", "chosen", "rejected"} for r in written
    )
    # chosen is the file's answer; rejected is exactly what `thrifty generate` answers greedily.
    first = FAQ[0]
    assert written[0]["prompt"] == first["instruction"] and written[0]["chosen"] == first["output"]
    model, tokenizer = load_for_generation(str(tiny_model))
    assert (
        written[0]["rejected"]
        == generate(model, tokenizer, [first["instruction"]], GenerationOptions(max_new_tokens=5))[0]
    )
    files = JobFiles.for_output(out)
    assert not files.partial.exists() and not files.state.exists()  # only the finished file is left
    assert len(load_pairs(str(out), DataConfig())[0]) == len(written)  # DPO's reader takes it as it is


def test_resume_after_an_interrupted_batch(tiny_model, alpaca_file, tmp_path, monkeypatch, capsys):
    generate, calls = fake_generate()

    def interrupted(model, tokenizer, texts, options):
        if len(calls) == 1:
            raise KeyboardInterrupt
        return generate(model, tokenizer, texts, options)

    out = tmp_path / "pairs.jsonl"
    files = JobFiles.for_output(out)
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", interrupted)
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "3", "--limit", "8") == 130
    assert not out.exists() and len(rows(files.partial)) == 3  # one committed batch, not presented as done
    with files.partial.open("a") as handle:
        handle.write('{"prompt": "half a line')  # a kill in the middle of the next write
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", generate)
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "3", "--limit", "8", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (
        summary["resumed_from"] == 3 and summary["rows_written"] == 8 and calls == [3, 3, 2]
    )  # batch 1, then only what was left
    resumed = rows(out)
    fresh = tmp_path / "fresh.jsonl"
    assert pairs(alpaca_file, fresh, tiny_model, "--batch-size", "3", "--limit", "8") == 0
    assert resumed == rows(fresh)  # the same rows as a run that was never stopped, none twice


def test_answers_equal_to_the_reference_are_skipped_and_counted(
    tiny_model, alpaca_file, tmp_path, monkeypatch, capsys
):
    generate, _ = fake_generate(equal_for={FAQ[1]["instruction"], FAQ[3]["instruction"]})
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", generate)
    out = tmp_path / "pairs.jsonl"
    assert pairs(alpaca_file, out, tiny_model, "--limit", "8", "--json") == 0  # FAQ repeats every 4 records
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows_written"], summary["skipped_equal"]) == (4, 4)
    assert {r["prompt"] for r in rows(out)} == {
        FAQ[0]["instruction"],
        FAQ[2]["instruction"] + "\n\nIn Sweden.",
    }


def test_other_settings_are_refused_until_overwrite(tiny_model, alpaca_file, tmp_path, monkeypatch, capsys):
    generate, calls = fake_generate()

    def stops_after_one(*args):
        if calls:
            raise KeyboardInterrupt
        return generate(*args)

    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", stops_after_one)
    out = tmp_path / "pairs.jsonl"
    files = JobFiles.for_output(out)
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "2") == 130
    before = files.partial.read_text()
    capsys.readouterr()
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "2", "--max-new-tokens", "9") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_new_tokens" in err and "--overwrite" in err
    alpaca_file.write_text(alpaca_file.read_text() + json.dumps(FAQ[0]) + "\n")  # another input
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "2") == 2
    assert "input_sha256" in capsys.readouterr().err and files.partial.read_text() == before
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", generate)
    assert pairs(alpaca_file, out, tiny_model, "--max-new-tokens", "9", "--overwrite") == 0
    assert len(rows(out)) == 21
    assert pairs(alpaca_file, out, tiny_model, "--max-new-tokens", "9") == 2  # a finished output stays
    assert "exists" in capsys.readouterr().err


def test_chat_input_keeps_the_prompt_as_messages(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", fake_generate()[0])
    data = tmp_path / "chat.jsonl"
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": FAQ[0]["instruction"]},
        {"role": "assistant", "content": FAQ[0]["output"]},
    ]
    data.write_text(json.dumps({"messages": turns}) + "\n")
    out = tmp_path / "pairs.jsonl"
    assert pairs(data, out, tiny_model) == 0
    assert rows(out) == [
        {"prompt": turns[:2], "chosen": FAQ[0]["output"], "rejected": "no idea about How do I app"}
    ]


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "not found"),
        ("", "empty"),
        ('{"question": "a", "answer": "b"}\n', "cannot tell the format"),
        ('{"text": "just text"}\n', "plain text"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tiny_model, tmp_path, capsys, content, fragment):
    data = tmp_path / "in.jsonl"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "out" / "pairs.jsonl"
    assert pairs(data, out, tiny_model) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err
    assert not out.parent.exists()


def test_sigterm_finishes_the_batch_then_stops(tiny_model, alpaca_file, tmp_path, monkeypatch, capsys):
    import os
    import signal

    generate, calls = fake_generate()
    before = signal.getsignal(signal.SIGTERM)

    def terminated(*args):
        if not calls:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while the first batch is generating
        return generate(*args)

    monkeypatch.setattr("thrifty.inference.generate.generate_from_text", terminated)
    out = tmp_path / "pairs.jsonl"
    assert pairs(alpaca_file, out, tiny_model, "--batch-size", "4") == 75
    assert calls == [4] and len(rows(JobFiles.for_output(out).partial)) == 4 and not out.exists()
    assert "rerun the same command" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # the old handler is back
