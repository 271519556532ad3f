import json

import pytest

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.eval.runner import EvalOptions, evaluate_run


@pytest.fixture(scope="module")
def tiny_run(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-run")
    return train_tiny_run(tiny_model, write_faq(folder / "faq.jsonl"), folder / "run")


def test_eval_cli_writes_eval_json_and_md_with_base_side_by_side(tiny_run, capsys):
    argv = ["eval", str(tiny_run), "--compare-base", "--max-new-tokens", "6", "--no-progress", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tiny_run / "eval.json").read_text())
    summary = json.loads((tiny_run / "summary.json").read_text())
    # Default data = the run's own held-out split, so the losses are the ones training measured
    # (one eval batch: the trainer's batch mean is the per-token mean).
    assert report["models"]["fine_tuned"]["loss"] == pytest.approx(summary["eval_loss_after"], rel=1e-4)
    assert report["models"]["base"]["loss"] == pytest.approx(summary["eval_loss_before"], rel=1e-4)
    assert report["delta"]["loss"] == pytest.approx(
        summary["eval_loss_after"] - summary["eval_loss_before"], abs=1e-4
    )
    tuned = report["models"]["fine_tuned"]
    assert set(tuned["scores"]) == {"exact", "contains", "f1", "rougeL"}
    assert tuned["generated_tokens"] > 0 and tuned["tokens_per_second"] > 0 and tuned["peak_memory_bytes"] > 0
    assert report["samples"] and {"prompt", "reference", "base", "fine_tuned"} <= set(report["samples"][0])
    md = (tiny_run / "eval.md").read_text()
    assert "| perplexity |" in md and "fine-tuned" in md and "## Example answers" in md
    # A second eval refuses to replace eval.json without --force.
    assert main(["eval", str(tiny_run), "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err


def test_batched_generation_gives_the_same_answers_as_one_by_one(tiny_run, tmp_path):
    data = tmp_path / "questions.jsonl"
    write_faq(data, copies=1)
    common = {"data": str(data), "metrics": ["f1"], "max_new_tokens": 8, "force": True, "progress": False}
    one = evaluate_run(tiny_run, EvalOptions(batch_size=1, shown_examples=4, **common))
    batched = evaluate_run(tiny_run, EvalOptions(batch_size=4, shown_examples=4, **common))
    assert [s["fine_tuned"] for s in one["samples"]] == [s["fine_tuned"] for s in batched["samples"]]
    assert one["models"]["fine_tuned"]["perplexity"] == pytest.approx(
        batched["models"]["fine_tuned"]["perplexity"]
    )
    assert one["examples"] == 4 and one["data_format"] == "alpaca"


def test_bad_eval_input_is_one_line_and_exit_2(tiny_run, tmp_path, capsys):
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"question": "q", "answer": "a"}\n')
    assert main(["eval", str(tiny_run), "--data", str(wrong), "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot tell the format" in err and str(wrong) in err
    assert main(["eval", str(tmp_path), "--force"]) == 2
    assert "no config.yaml" in capsys.readouterr().err
    assert main(["eval", str(tiny_run), "--metrics", "bleu"]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_bad_input_leaves_an_existing_eval_json_byte_identical(tiny_run, tmp_path, capsys):
    """Bad input fails before anything is written, with or without --force; eval.md alone is guarded too."""
    eval_json, eval_md = tiny_run / "eval.json", tiny_run / "eval.md"
    if not eval_json.exists():
        assert main(["eval", str(tiny_run), "--max-new-tokens", "2", "--no-progress"]) == 0
    before = eval_json.read_bytes(), eval_md.read_bytes()
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"question": "q", "answer": "a"}\n')
    capsys.readouterr()
    assert main(["eval", str(tiny_run), "--data", str(wrong)]) == 2
    assert main(["eval", str(tiny_run), "--data", str(wrong), "--force"]) == 2
    assert (eval_json.read_bytes(), eval_md.read_bytes()) == before
    # A folder with eval.md but no eval.json (deleted by hand): eval.md is not replaced without --force.
    saved = eval_json.read_bytes()
    eval_json.unlink()
    capsys.readouterr()
    try:
        assert main(["eval", str(tiny_run), "--max-new-tokens", "2", "--no-progress"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"{eval_md} exists" in err and "--force" in err and err.count("\n") == 0
        assert eval_md.read_bytes() == before[1]
    finally:
        eval_json.write_bytes(saved)


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--batch-size", "0", "--batch-size 0"), ("--max-examples", "-2", "--max-examples -2")],
)
def test_counts_must_be_positive(tiny_run, capsys, flag, value, expected):
    assert main(["eval", str(tiny_run), flag, value, "--force", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "positive" in err and err.count("\n") == 0


def test_task_metrics_on_plain_text_are_refused(tiny_run, tmp_path, capsys):
    text = tmp_path / "notes.jsonl"
    text.write_text("".join(json.dumps({"text": f"plain sentence number {i}."}) + "\n" for i in range(6)))
    for extra in (["--metrics", "exact,f1"], ["--labels", "yes,no"]):
        assert main(["eval", str(tiny_run), "--data", str(text), "--force", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and str(text) in err and "no reference answers" in err
        assert "perplexity only" in err and "instruction format" in err
    # Without named metrics plain text still gets its perplexity.
    argv = ["eval", str(tiny_run), "--data", str(text), "--force", "--no-progress", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["data_format"] == "text" and "scores" not in report["models"]["fine_tuned"]


def test_lm_eval_missing_names_the_extra_before_any_model_loads(tiny_run, capsys, monkeypatch):
    import sys

    import thrifty.eval.runner as runner

    monkeypatch.setitem(sys.modules, "lm_eval", None)  # `import lm_eval` now raises ImportError
    monkeypatch.setattr(runner, "load_tuned", lambda run: pytest.fail("loaded the model first"))
    assert main(["eval", str(tiny_run), "--lm-eval", "my_task", "--force", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'thrifty[lm-eval]'" in err and err.count("\n") == 0


def _in_unit_interval(value) -> bool:
    return isinstance(value, int | float) and 0.0 <= value <= 1.0


def test_labels_and_json_metric_end_to_end(tiny_run, tmp_path, capsys):
    yes_no = tmp_path / "yes-no.jsonl"
    rows = [
        {"instruction": f"Is {n} even?", "input": "", "output": "yes" if n % 2 == 0 else "no"}
        for n in range(6)
    ]
    yes_no.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--data", str(yes_no), "--max-new-tokens", "3", "--force", "--no-progress", "--json"]
    assert main(["eval", str(tiny_run), "--labels", "yes,no", *common]) == 0
    report = json.loads(capsys.readouterr().out)
    scores = report["models"]["fine_tuned"]["scores"]
    assert report["labels"] == ["yes", "no"] and "accuracy" in report["metrics"]
    assert _in_unit_interval(scores["accuracy"]) and _in_unit_interval(scores["off_label_rate"])
    assert main(["eval", str(tiny_run), "--metrics", "json", *common]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"] == ["json"]
    assert set(report["models"]["fine_tuned"]["scores"]) == {"json"}
    assert _in_unit_interval(report["models"]["fine_tuned"]["scores"]["json"])
    assert json.loads((tiny_run / "eval.json").read_text())["metrics"] == ["json"]


def test_a_received_run_folder_cannot_turn_on_remote_code(tiny_run, tmp_path, capsys):
    # Someone else's run folder says model.trust_remote_code: true; only the command line may allow it.
    import shutil

    import yaml

    from thrifty.cli import main

    received = tmp_path / "received"
    shutil.copytree(tiny_run, received)
    for done in ("eval.json", "eval.md"):  # left by the tests before this one in the shared run
        (received / done).unlink(missing_ok=True)
    shutil.rmtree(received / "export", ignore_errors=True)
    config = yaml.safe_load((received / "config.yaml").read_text())
    config["model"]["trust_remote_code"] = True
    (received / "config.yaml").write_text(yaml.safe_dump(config))
    for argv in (["eval", str(received)], ["export", str(received), "--merge"]):
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--trust-remote-code" in err[0] and str(received) in err[0]
    assert not (received / "eval.json").exists() and not (received / "export").exists()
    assert (
        main(["eval", str(received), "--trust-remote-code", "--max-examples", "1", "--max-new-tokens", "2"])
        == 0
    )


def test_eval_writes_only_into_a_run_folder(tiny_run, tmp_path, capsys):
    """eval writes eval.json into the run it reads: a folder thrifty marked as something else is refused
    (nothing written), while a run from before the markers (none) is still evaluated."""
    import shutil

    from thrifty.outputs import MARKER, write_marker

    other = tmp_path / "other"
    shutil.copytree(tiny_run, other, ignore=shutil.ignore_patterns("eval.json", "eval.md", "export", MARKER))
    write_marker(other, "export")
    capsys.readouterr()
    assert main(["eval", str(other), "--max-examples", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "thrifty export folder, not a run folder" in err
    assert not (other / "eval.json").exists() and not (other / "eval.md").exists()
    (other / MARKER).unlink()
    assert main(["eval", str(other), "--max-examples", "1", "--max-new-tokens", "2", "--no-progress"]) == 0
    assert (other / "eval.json").is_file() and not (other / MARKER).exists()
