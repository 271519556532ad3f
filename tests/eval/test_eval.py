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
