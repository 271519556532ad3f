"""The Python API: `import thrifty` stays light, each verb is a function returning a result object, and a
bad input raises thrifty.UserError (never SystemExit) with the CLI's one-line message."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import thrifty
from tests.conftest import FAQ


@pytest.fixture(scope="module")
def faq_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api-data") / "faq.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 5))
    return path


def tiny_config(model: Path, data: Path, out: Path) -> dict:
    return {
        "model": {"name": str(model)},
        "data": {"path": str(data), "max_seq_len": 64},
        "train": {"micro_batch_size": 4, "logging_steps": 1, "learning_rate": 1e-2, "warmup_ratio": 0},
        "output": {"dir": str(out)},
    }


@pytest.fixture(scope="module")
def api_run(tiny_model, faq_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("api-run") / "run"
    return thrifty.train(tiny_config(tiny_model, faq_data, out), overrides={"train.max_steps": 3})


def test_import_thrifty_loads_no_heavy_library_nor_the_api_module():
    code = "import sys, thrifty; print(sorted(m for m in ('torch', 'transformers', 'pydantic', 'thrifty.api') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_verb_is_its_package_and_its_typed_function():
    import thrifty.plan.planner  # the package is still reachable as before
    from thrifty import api

    assert thrifty.plan.planner.PlanRequest.__name__ == "PlanRequest"
    for verb in ("plan", "train", "eval", "export", "compare", "sweep", "prune"):
        assert callable(getattr(thrifty, verb)), verb
        assert getattr(api, verb).__doc__, verb
    parameters = inspect.signature(thrifty.train).parameters
    assert list(parameters)[:2] == ["config", "overrides"] and parameters["resume"].default is None
    from thrifty.errors import UserError

    assert thrifty.UserError is UserError


def test_plan_returns_the_cheapest_option():
    plan = thrifty.plan(model="qwen2.5-7b", method="qlora", gpu="rtx4090")
    cheapest = plan.cheapest
    assert cheapest is not None and cheapest["fits"]
    assert cheapest["usd"] == min(o["usd"] for o in plan.options if o.get("fits") and "usd" in o)
    assert plan["method"] == "qlora" and plan["trainable_params"] < plan["total_params"]


@pytest.mark.parametrize(
    "call, says",
    [
        (lambda: thrifty.plan(model="qwen2.5-7b", precision="fp8"), "precision 'fp8' is not one"),
        (lambda: thrifty.plan(model="qwen2.5-7b", rank=0), "method: rank: Input should be greater than 0"),
        (lambda: thrifty.plan(model="qwen2.5-7b", tokens="lots"), "--tokens 'lots'"),
        (lambda: thrifty.train(overrides={"train.learning_rate": -1}), "config: train.learning_rate"),
        (lambda: thrifty.train(overrides={"train.report_to": "comet"}), "unknown tracker 'comet'"),
        (lambda: thrifty.train("no-such.yaml"), "config file not found: no-such.yaml"),
        (lambda: thrifty.eval("no-such-run"), "no-such-run"),
        (lambda: thrifty.compare(budget_steps=-1), "--budget-steps must be positive"),
        (lambda: thrifty.sweep("no-such-sweep.yaml"), "no-such-sweep.yaml"),
    ],
)
def test_bad_input_raises_user_error_not_system_exit(call, says):
    with pytest.raises(thrifty.UserError) as caught:
        call()
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_train_returns_the_run_with_its_summary_figures(api_run):
    summary = api_run.summary
    assert summary["steps"] == 3 and summary["method"] == "lora"
    for figure in ("eval_loss_before", "eval_loss_after", "peak_memory_bytes", "predicted_peak_memory_bytes"):
        assert isinstance(summary[figure], int | float), figure
    assert json.loads((api_run.run_dir / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert api_run.model is not None and (api_run.run_dir / "adapter").is_dir()


def test_train_takes_a_yaml_file_and_list_overrides_like_the_cli(tiny_model, faq_data, tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny_model, faq_data, tmp_path / "run")))
    result = thrifty.train(path, ["train.max_steps=1"], plan_only=True)
    assert "plan" in result.summary and not (tmp_path / "run").exists()  # plan only: nothing written


def test_eval_and_export_on_the_trained_run(api_run):
    evaluation = thrifty.eval(api_run.run_dir, max_examples=2, max_new_tokens=4, metrics=["exact", "f1"])
    assert evaluation.report == json.loads((api_run.run_dir / "eval.json").read_text())
    exported = thrifty.export(api_run.run_dir, merge=True)
    merged = api_run.run_dir / "export" / "merged"
    assert str(merged) in exported.targets and (merged / "config.json").is_file()


def test_compare_one_strategy_on_a_tiny_budget(tiny_model, faq_data, tmp_path):
    out = tmp_path / "cmp"
    config = tiny_config(tiny_model, faq_data, tmp_path / "unused")
    comparison = thrifty.compare(config, strategies=["lora"], budget_steps=2, output=out)
    assert [row["strategy"] for row in comparison.report["table"]] == ["lora"]
    assert "lora" in comparison.recommendation and (out / "report.md").is_file()


def test_prune_returns_the_new_shapes(tiny_model, faq_data, tmp_path):
    result = thrifty.prune(str(tiny_model), tmp_path / "small", heads=0.5, mlp=0.5, calibration=str(faq_data))
    assert (result.heads_before, result.heads_after, result.intermediate_after) == (4, 2, 32)
    assert result.params_after < result.params_before and (tmp_path / "small" / "prune.json").is_file()
    with pytest.raises(thrifty.UserError, match="below 1"):
        thrifty.prune(str(tiny_model), tmp_path / "other", mlp=1.0)


def test_sweep_two_trials(tiny_model, faq_data, tmp_path, capsys):
    config = tiny_config(tiny_model, faq_data, tmp_path / "unused")
    del config["output"]
    config["train"]["max_steps"] = 2
    config["checkpoint"] = {"every_minutes": None}
    config["sweep"] = {"domain": "faq", "sampler": "random", "space": {"method.rank": {"choices": [2, 4]}}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    result = thrifty.sweep(path, output=str(tmp_path / "sw"), trials=2)
    assert "(* = best)" not in capsys.readouterr().err  # the rows come back; no table is printed
    assert result.sweep_dir == tmp_path / "sw" and len(result.summary["rows"]) == 2
    assert result.best[0]["params"]["method.rank"] in (2, 4)
