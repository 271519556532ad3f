"""`thrifty eval` of a DPO run: TRL's margin and accuracy against the base (equal to what training
recorded on the same held-out pairs), the win rate over the base's answers, and the report's rows."""

import json

import pytest

from tests.objectives.conftest import dpo_args, pairs, write_jsonl
from thrifty.cli import main


@pytest.fixture(scope="module")
def dpo_run(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval-dpo")
    data = write_jsonl(folder / "pairs.jsonl", pairs())
    out = folder / "run"
    assert main(dpo_args(tiny_model, data, out)) == 0
    return out


def test_eval_of_a_dpo_run_reports_preference_figures_and_the_win_rate(dpo_run, capsys):
    args = ["eval", str(dpo_run), "--compare-base", "--max-new-tokens", "4", "--batch-size", "2"]
    assert main([*args, "--no-progress", "--json"]) == 0
    report = json.loads((dpo_run / "eval.json").read_text())
    summary = json.loads((dpo_run / "summary.json").read_text())
    pref = report["preference"]
    assert report["data_format"] == "preference" and pref["fine_tuned"]["pairs"] == report["examples"]
    # The same pairs, beta and base reference as training's final evaluation: the same figures.
    assert pref["fine_tuned"]["reward_margin"] == pytest.approx(summary["reward_margin_after"], rel=1e-3)
    assert pref["fine_tuned"]["preference_accuracy"] == pytest.approx(summary["preference_accuracy_after"])
    assert pref["wins"] + pref["ties"] + pref["losses"] == report["examples"]
    assert pref["win_rate"] == pytest.approx((pref["wins"] + 0.5 * pref["ties"]) / report["examples"])
    assert pref["judge"] == "f1 against the chosen answer"
    text = (dpo_run / "eval.md").read_text()
    assert "preference accuracy" in text and "win rate over base" in text


def test_win_rate_counts_ties_half():
    from thrifty.eval.preference import win_rate

    assert win_rate([1.0, 0.5, 0.0, 0.2], [0.0, 0.5, 1.0, 0.1]) == {
        "win_rate": 0.625,
        "wins": 2,
        "ties": 1,
        "losses": 1,
    }


def test_eval_of_a_kto_run_reads_its_data_as_answers(tiny_model, tmp_path):
    """KTO's prompt/completion/label rows are no pairs: eval scores them as prompt_completion answers."""
    from tests.objectives.test_orpo_simpo_kto import kto_rows, objective_args

    data = write_jsonl(tmp_path / "kto.jsonl", kto_rows())
    run = tmp_path / "kto"
    assert main(objective_args("kto", tiny_model, data, run, steps=1)) == 0
    assert main(["eval", str(run), "--max-new-tokens", "2", "--no-progress"]) == 0
    report = json.loads((run / "eval.json").read_text())
    assert report["data_format"] == "prompt_completion" and "preference" not in report
