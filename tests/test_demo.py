"""The demo's code path (train, before/after table, base vs fine-tuned answers) on one real step."""

from thrifty.demo import run_demo


def test_demo_runs_and_reports_before_and_after(tmp_path, capsys):
    result = run_demo(output=str(tmp_path / "demo"), max_steps=1)
    out = capsys.readouterr().out
    assert "before / after fine-tuning" in out and "held-out question" in out
    summary = result["summary"]
    assert summary["steps"] == 1 and summary["eval_examples"] == 50  # 10% of 503, never trained on
    assert result["base_answer"] and result["tuned_answer"]
    assert (tmp_path / "demo" / "summary.json").is_file()
