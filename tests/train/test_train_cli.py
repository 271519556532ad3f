"""`thrifty train` end to end on a tiny random Llama: files, summary, metrics, and bad input."""

import json
import subprocess
import sys

import pytest
import yaml

from thrifty.cli import main
from thrifty.errors import UserError

SUMMARY_KEYS = {
    "model",
    "method",
    "trainable_params",
    "total_params",
    "trainable_percent",
    "steps",
    "train_tokens",
    "wall_seconds",
    "tokens_per_second",
    "peak_memory_bytes",
    "eval_loss_before",
    "eval_loss_after",
    "perplexity_before",
    "perplexity_after",
}
FAST = ["--no-progress", "train.micro_batch_size=4", "data.max_seq_len=128", "train.logging_steps=1"]


def _train(tiny_model, data, out, *extra):
    return main(
        ["train", "--model", str(tiny_model), "--data", str(data), "--output", str(out), *FAST, *extra]
    )


def test_train_writes_adapter_summary_metrics_and_config(tiny_model, alpaca_file, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    assert (
        _train(
            tiny_model,
            alpaca_file,
            out,
            "--max-steps",
            "4",
            "method.target_modules=q_proj,v_proj",
            "method.rank=8",
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert summary["trainable_params"] == 2 * 8 * ((32 + 32) + (32 + 16))
    assert summary["steps"] == 4 and summary["train_tokens"] > 0 and summary["peak_memory_bytes"] > 0
    assert summary["data_format"] == "alpaca" and summary["eval_examples"] == 2  # 10% of 20, seeded split

    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_lines = [m for m in metrics if "loss" in m]
    assert [m["step"] for m in train_lines] == [1, 2, 3, 4]
    assert all(m["tokens_per_second"] > 0 and m["learning_rate"] is not None for m in train_lines)

    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["train"]["max_steps"] == 4 and config["output"]["dir"] == str(out)
    assert (out / "tokenizer" / "tokenizer.json").is_file()
    assert not (out / "trainer").exists()
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out / "adapter")


def test_loss_falls_on_repeated_data(tiny_model, alpaca_file, tmp_path):
    out = tmp_path / "run"
    assert (
        _train(
            tiny_model,
            alpaca_file,
            out,
            "--max-steps",
            "30",
            "train.learning_rate=1e-2",
            "train.warmup_ratio=0",
            "--json",
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    # A random tiny model starts near uniform (ln 300 = 5.7); 30 steps reliably take off ~0.3.
    assert summary["eval_loss_after"] < summary["eval_loss_before"] - 0.15


def test_yaml_config_with_override(tiny_model, alpaca_file, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"name": str(tiny_model)},
                "data": {"path": str(alpaca_file)},
                "train": {"max_steps": 5, "micro_batch_size": 2},
                "output": {"dir": str(tmp_path / "run")},
            }
        )
    )
    assert main(["train", str(config), "train.max_steps=2", "--no-progress"]) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2


def test_finished_run_is_not_overwritten_without_flag(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_model, alpaca_file, out, "--max-steps", "1") == 0
    before = (out / "summary.json").read_text()
    assert _train(tiny_model, alpaca_file, out, "--max-steps", "2") == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == before
    assert _train(tiny_model, alpaca_file, out, "--max-steps", "2", "--overwrite") == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 2


def test_eval_interval_and_early_stopping(tiny_model, alpaca_file, tmp_path):
    out = tmp_path / "run"
    # lr 0 -> eval loss never improves, so patience 1 stops after the second evaluation.
    assert (
        _train(
            tiny_model,
            alpaca_file,
            out,
            "--max-steps",
            "20",
            "train.eval_every_steps=2",
            "train.early_stopping_patience=1",
            "train.learning_rate=1e-12",
            "train.lr_scheduler=constant",
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if "eval_loss" in x]
    assert summary["steps"] < 20 and summary["stopped_early"] is True
    assert len(evals) >= 2


def _bad_cases(tmp_path, alpaca_file):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c", "output": \n')
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"question": "a", "answer": "b"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    data = str(alpaca_file)
    return {
        "malformed": (["--data", str(bad_json)], "bad.jsonl:2: malformed JSON"),
        "missing file": (["--data", str(tmp_path / "nope.jsonl")], "data file not found"),
        "unknown format": (["--data", str(odd)], "cannot tell the format from columns answer, question"),
        "forced format": (["--data", data, "data.format=text"], "format text needs column(s) text"),
        "empty": (["--data", str(empty)], "the dataset is empty"),
        "unknown model": (
            ["--data", data, "--model", "no-such-org/no-such-model"],
            "is not cached and HF_HUB_OFFLINE=1",
        ),
        "missing model dir": (["--data", data, "--model", "./no/such/dir"], "model folder not found"),
        "rank": (["--data", data, "method.rank=0"], "method.rank: Input should be greater than 0"),
        "lr": (["--data", data, "train.learning_rate=0"], "train.learning_rate"),
        "seq len": (["--data", data, "data.max_seq_len=10"], "data.max_seq_len=10 is too small"),
        "no data": ([], "data.path is required"),
        # On a GPU machine fp16 is allowed, so the same refusal is checked for a precision that is
        # wrong everywhere instead: the suite passes on either machine.
        "fp16 on cpu": (["--data", data, "train.precision=fp16"], "fp16 needs a CUDA GPU")
        if not _has_cuda()
        else (["--data", data, "train.precision=fp64"], "train.precision"),
    }


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("device", ["cpu", "mps", "cuda"])
def test_fp16_is_refused_only_without_cuda(device, monkeypatch):
    # Both sides of the rule on any machine: the "fp16 on cpu" case above can only see its own.
    from thrifty import hardware

    if device == "cuda" and _has_cuda():
        assert hardware.resolve_precision("fp16") == "fp16"  # the real GPU, unpatched
    monkeypatch.setattr(hardware, "device_name", lambda: device)
    if device == "cuda":
        assert hardware.resolve_precision("fp16") == "fp16"
    else:
        with pytest.raises(UserError, match=f"fp16 needs a CUDA GPU \\(this machine: {device}\\)"):
            hardware.resolve_precision("fp16")


@pytest.mark.parametrize(
    "case",
    [
        "malformed",
        "missing file",
        "unknown format",
        "forced format",
        "empty",
        "unknown model",
        "missing model dir",
        "rank",
        "lr",
        "seq len",
        "no data",
        "fp16 on cpu",
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_summary(case, tiny_model, alpaca_file, tmp_path, capsys):
    args, expected = _bad_cases(tmp_path, alpaca_file)[case]
    out = tmp_path / "run"
    argv = ["train", "--output", str(out), "--no-progress", *args]
    if "--model" not in args:
        argv += ["--model", str(tiny_model)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and expected in err and "\n" not in err, err
    assert not (out / "summary.json").exists()


def test_console_script_exit_code_and_no_traceback(tmp_path, tiny_model):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "thrifty",
            "train",
            "--model",
            str(tiny_model),
            "--data",
            str(bad),
            "--output",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "bad.jsonl:1: malformed JSON" in proc.stderr


@pytest.mark.parametrize(
    "options",
    [
        ["train.gradient_checkpointing=true"],
        ["train.gradient_accumulation_steps=2", "train.micro_batch_size=2"],
        ["train.precision=bf16"],
        ["train.lr_scheduler=linear", "train.weight_decay=0.01", "train.max_grad_norm=0.5"],
        ["train.group_by_length=true", "train.optimizer=sgd"],
        ["train.optimizer=adamw_bnb_8bit"],
        ["train.optimizer=paged_adamw_8bit"],
        ["method.use_dora=true", "method.use_rslora=true"],
    ],
    ids=[
        "checkpointing",
        "accumulation",
        "bf16",
        "schedule",
        "grouped-sgd",
        "adamw-8bit",
        "paged-8bit",
        "dora-rslora",
    ],
)
def test_training_options_run(options, tiny_model, alpaca_file, tmp_path):
    out = tmp_path / "run"
    assert _train(tiny_model, alpaca_file, out, "--max-steps", "2", *options) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["train_tokens"] > 0
    config = yaml.safe_load((out / "config.yaml").read_text())
    key, value = options[0].split("=")
    section, field = key.split(".")
    assert str(config[section][field]).lower() == value


def test_truncation_is_reported(tiny_model, alpaca_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_model, alpaca_file, out, "--max-steps", "1", "data.max_seq_len=40") == 0
    assert "were longer than data.max_seq_len=40" in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["truncated_examples"] > 0


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--model",
        "--data",
        "--eval-data",
        "--output",
        "--method",
        "--max-steps",
        "--epochs",
        "--seed",
    ):
        assert flag in text
    assert main(["config", "schema"]) == 0
    assert "train.learning_rate" in capsys.readouterr().out


@pytest.mark.parametrize("optimizer", ["adamw_bnb_8bit", "paged_adamw_8bit"])
def test_8bit_optimizers_really_keep_8bit_states(optimizer, tiny_model_wide, alpaca_file, tmp_path):
    # bitsandbytes keeps 32-bit states for tensors under min_8bit_size (4096 elements): a tiny LoRA
    # would silently test the 32-bit path. Full fine-tuning of the 64-wide model has 8192-element
    # matrices (64 x 128), so their Adam moments must be uint8.
    import torch
    from transformers import TrainerCallback

    from thrifty.config.load import load_config
    from thrifty.train.run import train

    dtypes: dict[int, set] = {}  # parameter size -> dtypes of its first Adam moment

    class InspectStates(TrainerCallback):
        def on_step_end(self, args, state, control, optimizer=None, **kwargs):
            inner = getattr(optimizer, "optimizer", optimizer)
            for param, st in inner.state.items():
                if "state1" in st:
                    dtypes.setdefault(param.numel(), set()).add(st["state1"].dtype)

    overrides = [
        f"model.name={tiny_model_wide}",
        f"data.path={alpaca_file}",
        f"output.dir={tmp_path / 'run'}",
    ]
    overrides += [
        "method.name=full",
        f"train.optimizer={optimizer}",
        "train.max_steps=2",
        "data.max_seq_len=64",
    ]
    train(load_config(None, overrides), progress=False, callbacks=[InspectStates()])
    # 64x128 MLP matrices: 8-bit. (HF Trainer keeps nn.Embedding states in 32 bits on purpose, and
    # tensors under 4096 elements stay 32-bit in bitsandbytes.)
    assert dtypes[64 * 128] == {torch.uint8}
    assert all(d == {torch.float32} for size, d in dtypes.items() if size < 4096)
