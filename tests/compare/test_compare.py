"""thrifty compare end to end on a tiny model: same data and budget, per-strategy results, report."""

import json

import pytest

from thrifty.cli import main
from thrifty.compare.report import pareto

ARGS = ["--no-progress", "data.max_seq_len=64", "train.micro_batch_size=4"]


def _compare(model, data, out, *extra):
    return main(["compare", "--model", str(model), "--data", str(data), "--output", str(out), *ARGS, *extra])


def test_compare_writes_results_report_and_plots(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert (
        _compare(
            tiny_model,
            alpaca_file,
            out,
            "--strategies",
            "scratch,full,lora",
            "--budget-steps",
            "2",
            "--gpu",
            "rtx4090",
            "--json",
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in report["table"]] == ["scratch", "full", "lora"]
    assert all(r["status"] == "ok" and r["steps"] == 2 and r["$"] > 0 for r in report["table"])
    assert report["pareto"] and "Use **" in report["recommendation"]
    for name in ("scratch", "full", "lora"):
        record = json.loads((out / "results" / f"{name}.json").read_text())
        assert record["status"] == "ok" and record["loss_curve"]
    lr = {n: json.loads((out / "runs" / n / "summary.json").read_text()) for n in ("full", "lora")}
    assert lr["full"]["eval_examples"] == lr["lora"]["eval_examples"]  # same split
    for png in ("loss_curves.png", "quality_vs_cost.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "report.md").read_text()
    assert "| lora" in text and "eval loss" in text and "<table" in (out / "report.html").read_text()


def test_rerun_skips_unchanged_strategies_and_reruns_changed(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert _compare(tiny_model, alpaca_file, out, "--strategies", "lora,ia3", "--budget-steps", "1") == 0
    capsys.readouterr()
    assert _compare(tiny_model, alpaca_file, out, "--strategies", "lora,ia3", "--budget-steps", "1") == 0
    assert capsys.readouterr().err.count("result unchanged, skipped") == 2
    assert _compare(tiny_model, alpaca_file, out, "--strategies", "lora,ia3", "--budget-steps", "2") == 0
    assert "skipped" not in capsys.readouterr().err


def test_a_crashing_strategy_is_reported_and_others_still_run(
    tiny_model, alpaca_file, tmp_path, monkeypatch, capsys
):
    import thrifty.train.run as run

    real = run.train

    def flaky(config, **kwargs):
        if config.method.name == "ia3":
            raise RuntimeError("out of memory (simulated)")
        return real(config, **kwargs)

    monkeypatch.setattr(run, "train", flaky)
    out = tmp_path / "cmp"
    assert (
        _compare(tiny_model, alpaca_file, out, "--strategies", "ia3,lora", "--budget-steps", "1", "--json")
        == 0
    )
    table = {r["strategy"]: r for r in json.loads(capsys.readouterr().out)["table"]}
    assert table["ia3"]["status"] == "failed" and "out of memory" in table["ia3"]["error"]
    assert table["lora"]["status"] == "ok"
    assert "out of memory" in (out / "report.md").read_text()


def test_time_budget_stops_training(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert (
        _compare(tiny_model, alpaca_file, out, "--strategies", "lora", "--budget-minutes", "0.0001", "--json")
        == 0
    )
    summary = json.loads((out / "runs" / "lora" / "summary.json").read_text())
    assert summary["steps"] == 1  # the time check after the first step stops it


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--strategies", "lora,magic", "--budget-steps", "2"],
            "unknown strategy part 'magic'; a strategy is a method (dora, freeze",
        ),
        (["--strategies", "lora", "--budget-steps", "0"], "--budget-steps must be positive"),
        (["--strategies", "lora"], "a budget is needed"),
        (["--strategies", "lora", "--budget-dollars", "1"], "--budget-dollars needs --gpu"),
        (
            ["--strategies", "full,lora", "--budget-steps", "1", "method.target_modules=nope_proj"],
            "strategy lora: method.target_modules",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(args, expected, tiny_model, alpaca_file, tmp_path, capsys):
    assert _compare(tiny_model, alpaca_file, tmp_path / "cmp", *args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and expected in err, err
    assert not (tmp_path / "cmp" / "results").exists()  # nothing trained


def test_pareto_frontier():
    table = [
        {"strategy": s, "status": "ok", "eval loss": loss, "$": usd}
        for s, loss, usd in [("a", 1.0, 5.0), ("b", 2.0, 1.0), ("c", 2.5, 3.0), ("d", 0.9, 9.0)]
    ]
    assert pareto(table) == ["a", "b", "d"]
