"""The planner against exact counts, published figures and its own invariants."""

import json

import pytest

from thrifty.cli import main
from thrifty.config.schema import MethodConfig
from thrifty.plan.planner import PlanRequest, make_plan, parse_tokens


def plan(model, method="lora", **kw):
    fields = {"rank": "rank", "targets": "target_modules", "virtual_tokens": "num_virtual_tokens"}
    spec = {fields.get(k, k): kw.pop(k) for k in (*fields, "trainable_layers") if k in kw}
    return make_plan(PlanRequest(model=model, method=MethodConfig(name=method, **spec), **kw))


@pytest.mark.parametrize(
    ("model", "targets", "expected"),
    [
        ("llama-2-7b", ["q_proj", "v_proj"], 4_194_304),
        ("llama-2-13b", ["q_proj", "v_proj"], 6_553_600),
        ("phi-1.5", ["q_proj", "v_proj"], 1_572_864),
        # LitGPT's "StableLM 3B" row is StableLM-Alpha, whose q/k/v share one query_key_value layer.
        ("stablelm-base-alpha-3b", ["query_key_value"], 2_097_152),
    ],
)
def test_lora_counts_match_published_tables(model, targets, expected):
    assert plan(model, rank=8, targets=targets, seq_len=64)["trainable_params"] == expected


def test_method_counts_are_consistent():
    full = plan("smollm2-135m", "full", seq_len=64)
    assert full["trainable_params"] == full["total_params"] == full["base_params"] == 134_515_008
    prompt = plan("smollm2-135m", "prompt", virtual_tokens=20, seq_len=64)
    assert prompt["trainable_params"] == 20 * 576  # one embedding row per virtual token
    freeze = plan("smollm2-135m", "freeze", trainable_layers=2, seq_len=64)
    per_layer = 576 * 576 * 2 + 576 * 192 * 2 + 3 * 576 * 1536 + 2 * 576  # q,o + k,v + mlp + 2 norms
    assert freeze["trainable_params"] == 2 * per_layer
    for method in ("ia3", "prefix", "dora", "rslora", "qlora"):
        assert 0 < plan("smollm2-135m", method, seq_len=64)["trainable_params"] < full["total_params"] // 10


def test_memory_responds_to_each_setting():
    base = dict(seq_len=512, micro_batch=2)
    lora = plan("llama-3.1-8b", **base)["memory"]
    assert (
        plan("llama-3.1-8b", "qlora", **base)["memory"]["weights"] < lora["weights"] / 2.5
    )  # embeddings and head stay bf16
    assert plan("llama-3.1-8b", micro_batch=4, seq_len=512)["memory"]["activations"] == pytest.approx(
        2 * lora["activations"], rel=0.01
    )
    assert (
        plan("llama-3.1-8b", gradient_checkpointing=True, **base)["memory"]["activations"]
        < lora["activations"] / 2
    )
    full = plan("llama-3.1-8b", "full", **base)["memory"]
    assert (
        plan("llama-3.1-8b", "full", optimizer="adamw8bit", **base)["memory"]["optimizer"]
        == full["optimizer"] // 4
    )
    sharded = plan("llama-3.1-8b", "full", gpus=4, strategy="fsdp", **base)["memory"]
    assert sharded["weights"] == full["weights"] // 4 and sharded["optimizer"] == full["optimizer"] // 4
    zero2 = plan("llama-3.1-8b", "full", gpus=4, strategy="zero2", **base)["memory"]
    assert zero2["weights"] == full["weights"] and zero2["gradients"] == full["gradients"] // 4
    eager = plan("smollm2-135m", seq_len=1024, attention="eager")["memory"]["activations"]
    assert eager > plan("smollm2-135m", seq_len=1024, attention="flash")["memory"]["activations"] * 1.5


def test_qlora_paper_65b_class_model_fits_48gb():
    # QLoRA paper: finetuning a 65B model drops from >780 GB to <48 GB (NF4, double quantization,
    # LoRA r=64 on all linear layers, paged optimizer, gradient checkpointing, micro-batch 1).
    p = plan(
        "llama-2-70b",
        "qlora",
        rank=64,
        seq_len=512,
        micro_batch=1,
        gradient_checkpointing=True,
        optimizer="paged_adamw8bit",
    )
    assert 36 * 2**30 < p["peak_memory_bytes"] < 48 * 2**30


def test_fit_finds_settings_or_says_what_would():
    fit = plan("llama-2-7b", "qlora", seq_len=2048, micro_batch=4, gpu="t4")["fit"]
    assert fit["fits"] and fit["settings"]["quantization"] == "nf4"
    assert fit["settings"]["micro_batch"] * fit["settings"]["grad_accum"] == 4  # global batch kept
    assert fit["settings"]["peak_memory_bytes"] <= 0.9 * fit["memory_bytes"]
    none = plan("llama-3.1-70b", "full", seq_len=2048, gpu="rtx4090")["fit"]
    assert not none["fits"]
    assert any("QLoRA" in s for s in none["suggestions"]) and any("FSDP" in s for s in none["suggestions"])


def test_options_are_ranked_and_marked():
    rows = plan("llama-3.1-8b", "qlora", seq_len=1024, tokens=20_000_000)["options"]
    fitting = [r for r in rows if r["fits"]]
    assert fitting and [r["usd"] for r in fitting] == sorted(r["usd"] for r in fitting)
    assert sum(bool(r.get("cheapest")) for r in rows) == 1 and sum(bool(r.get("fastest")) for r in rows) == 1
    spot = [r for r in rows if r["pricing"] == "spot" and r["expected_interruptions"] > 0]
    assert spot  # spot rows carry the restart overhead


def test_parse_tokens():
    assert parse_tokens("20M") == 20_000_000 and parse_tokens("1.5B") == 1_500_000_000
    assert parse_tokens("300k") == 300_000 and parse_tokens("5000") == 5000


def test_cli_json_has_the_documented_keys(capsys):
    assert (
        main(
            [
                "plan",
                "--model",
                "meta-llama/Llama-2-7b-hf",
                "--method",
                "lora",
                "--rank",
                "8",
                "--targets",
                "q_proj,v_proj",
                "--seq-len",
                "256",
                "--json",
                "--own",
                "rtx4090",
                "--roi",
                "10",
                "1000",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["trainable_params"] == 4_194_304
    assert {"total_params", "peak_memory_bytes", "memory", "flops", "options", "owned", "roi"} <= set(out)
    assert {"gpu", "provider", "pricing", "fits", "hours", "usd"} <= set(out["options"][0])
    assert out["owned"]["break_even_hours"] > 0


def test_cli_table(capsys):
    assert main(["plan", "--model", "qwen2.5-0.5b", "--gpu", "rtx3090", "--tokens", "5M"]) == 0
    out = capsys.readouterr().out
    assert "peak memory per device" in out and "cheapest" in out and "fits rtx3090" in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model", "lama-2-7b"], "unknown model 'lama-2-7b'; closest: llama-2-7b"),
        (["--model", "llama-2-7b", "--gpu", "rtx9999"], "unknown GPU 'rtx9999'"),
        (["--model", "llama-2-7b", "--seq-len", "0"], "--seq-len must be positive"),
        (["--model", "llama-2-7b", "--tokens=-5M"], "--tokens must be positive"),
        (["--model", "llama-2-7b", "--targets", "c_attn"], "this model has: down_proj, gate_proj"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, expected, capsys):
    assert main(["plan", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err, err


def test_train_records_prediction_and_calibration_reads_it(tiny_model, alpaca_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert (
        main(
            [
                "train",
                "--model",
                str(tiny_model),
                "--data",
                str(alpaca_file),
                "--output",
                str(runs / "a"),
                "--max-steps",
                "2",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "plan: " in capsys.readouterr().err
    summary = json.loads((runs / "a" / "summary.json").read_text())
    assert summary["predicted_peak_memory_bytes"] > 0 and summary["predicted_seconds"] > 0
    assert summary["achieved_mfu"] > 0
    assert main(["plan", "--calibration", "--runs", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["run"].endswith("a")


def test_method_table_matches_the_trainer_registry():
    # methods/table.py is data so `thrifty plan --help` and config validation need no torch; every row
    # has an apply function registered under its name, and nothing is registered without a row.
    from thrifty.methods.registry import REGISTRY
    from thrifty.methods.table import METHODS

    assert sorted(METHODS) == sorted(REGISTRY)
