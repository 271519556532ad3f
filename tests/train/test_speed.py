"""Speed defaults: packing learns what padding learns, the micro-batch search backs off and says so,
a failing torch.compile falls back, and the summary reports the data loader's share of the time."""

import json
from contextlib import nullcontext

import pytest
import torch

from thrifty.cli import main
from thrifty.errors import UserError
from thrifty.train.autobatch import DeviceProbe, candidates, is_out_of_memory, search_micro_batch

FAST = ["--no-progress", "train.micro_batch_size=4", "data.max_seq_len=128", "train.logging_steps=1"]


def _train(tiny_model, data, out, *extra) -> dict:
    args = ["train", "--model", str(tiny_model), "--data", str(data), "--output", str(out), *FAST, *extra]
    assert main(args) == 0
    return json.loads((out / "summary.json").read_text())


def test_packing_learns_what_padding_learns(tiny_model, alpaca_file, tmp_path):
    """Same batches (seeded sampler), no dropout: packed and padded runs end with the same weights."""
    from safetensors.torch import load_file

    runs = {}
    for name, extra in (
        ("packed", []),
        ("padded", ["data.packing=false", "train.learned_logits_only=false"]),
    ):
        summary = _train(
            tiny_model, alpaca_file, tmp_path / name, "--max-steps", "4", "method.dropout=0", *extra
        )
        runs[name] = (summary, load_file(tmp_path / name / "adapter" / "adapter_model.safetensors"))
    (packed, packed_weights), (padded, padded_weights) = runs["packed"], runs["padded"]
    assert packed["packing"] is True and padded["packing"] is False
    assert packed["train_tokens"] == padded["train_tokens"]  # real tokens only, no padding counted
    assert packed["train_loss"] == pytest.approx(padded["train_loss"], rel=1e-4)
    assert packed["eval_loss_after"] == pytest.approx(padded["eval_loss_after"], rel=1e-4)
    for key, tensor in padded_weights.items():
        assert torch.allclose(packed_weights[key], tensor, atol=1e-5), key
    assert 0 < packed["data_time_share"] < 0.5 and packed["data_seconds"] > 0


def test_prompt_learning_methods_keep_padding(tiny_model, alpaca_file, tmp_path):
    summary = _train(tiny_model, alpaca_file, tmp_path / "run", "--max-steps", "1", "--method", "prompt")
    assert summary["packing"] is False  # virtual tokens are per row: one packed row would share them


def test_auto_micro_batch_keeps_the_effective_batch_and_reports(tiny_model, alpaca_file, tmp_path, capsys):
    summary = _train(
        tiny_model,
        alpaca_file,
        tmp_path / "run",
        "--max-steps",
        "2",
        "train.auto_micro_batch=on",
        "train.gradient_accumulation_steps=2",
    )
    assert summary["micro_batch_size"] * summary["gradient_accumulation_steps"] == 8
    err = capsys.readouterr().err
    assert "auto micro-batch:" in err and f"micro_batch_size={summary['micro_batch_size']}" in err
    # The summary's prediction is the plan of the micro-batch that trained, not of the configured one.
    from thrifty.config import load_config
    from thrifty.train.run import train

    chosen = [f"train.micro_batch_size={summary['micro_batch_size']}", "data.max_seq_len=128"]
    chosen += [f"train.gradient_accumulation_steps={summary['gradient_accumulation_steps']}"]
    chosen += [f"model.name={tiny_model}", f"data.path={alpaca_file}", "train.max_steps=2"]
    plan = train(load_config(None, chosen), progress=False, plan_only=True).summary["plan"]
    assert summary["predicted_peak_memory_bytes"] == plan["peak_memory_bytes"]


def _rows(n: int) -> list[dict]:
    return [{"input_ids": [1] * (10 + i), "labels": [1] * (10 + i)} for i in range(n)]


def _probe(limit: int = 2**62, peak: int = 0) -> DeviceProbe:
    """A device whose limit and peak the test sets."""
    return DeviceProbe("cpu", lambda: limit, lambda: None, lambda: peak, nullcontext, lambda: None)


def test_search_backs_off_when_a_size_runs_out_of_memory():
    def step(model, batch, probe):
        if len(batch) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    choice = search_micro_batch(torch.nn.Linear(2, 2), _rows(8), lambda rows: rows, 8, _probe(), step)
    assert (
        choice.micro_batch_size in (1, 2)
        and choice.gradient_accumulation_steps * choice.micro_batch_size == 8
    )
    assert choice.tried[-1] == {"size": 4, "note": "out of memory"}
    assert "4: out of memory" in choice.describe()
    assert candidates(12) == [1, 2, 3, 4, 6, 12]


def test_search_stops_at_the_memory_limit_and_refuses_when_nothing_fits():
    def no_fit(model, batch, probe):
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(UserError, match="gradient_checkpointing"):
        search_micro_batch(torch.nn.Linear(2, 2), _rows(4), lambda rows: rows, 4, _probe(), no_fit)
    with pytest.raises(UserError, match="does not fit"):  # a 2-byte peak is over a 1-byte limit
        search_micro_batch(
            torch.nn.Linear(2, 2), _rows(4), lambda rows: rows, 4, _probe(1, 2), lambda m, b, p: None
        )


def test_resume_reuses_the_chosen_micro_batch_without_searching(tiny_model):
    from thrifty.config.schema import RunConfig
    from thrifty.train.speed import choose_micro_batch

    config = RunConfig.model_validate({"train": {"auto_micro_batch": "on", "micro_batch_size": 4}})
    chosen, state = choose_micro_batch(None, [], None, config, {"micro_batch": [2, 2]}, "cpu")
    assert (chosen.train.micro_batch_size, chosen.train.gradient_accumulation_steps) == (2, 2)
    assert state == {"micro_batch": [2, 2]}


def test_compile_failure_falls_back_with_a_warning(tiny_model, alpaca_file, tmp_path, monkeypatch, capsys):
    def broken(self, *args, **kwargs):
        raise RuntimeError("no C++ compiler found\nlong trace")

    monkeypatch.setattr(torch.nn.Module, "compile", broken)
    with pytest.warns(UserWarning, match="torch.compile failed"):
        summary = _train(tiny_model, alpaca_file, tmp_path / "run", "--max-steps", "1", "train.compile=on")
    assert summary["steps"] == 1
    assert (
        "warning: torch.compile failed (no C++ compiler found); training without it"
        in capsys.readouterr().err
    )


BROKEN_CALLS = []


def _broken_backend(graph, example_inputs):
    """A dynamo backend that fails the way Inductor does without a C++ compiler: when the first
    compiled forward hands it a graph."""
    BROKEN_CALLS.append(len(graph.graph.nodes))
    raise RuntimeError("InductorError: CppCompileError: C++ compile error\nlong trace")


torch._dynamo.register_backend(_broken_backend, name="thrifty_test_broken")


def test_compile_failing_at_the_first_forward_falls_back(
    tiny_model, alpaca_file, tmp_path, monkeypatch, capsys
):
    import thrifty.train.speed as speed

    monkeypatch.setattr(speed, "COMPILE_BACKEND", "thrifty_test_broken")
    BROKEN_CALLS.clear()
    with pytest.warns(UserWarning, match="torch.compile failed"):
        summary = _train(tiny_model, alpaca_file, tmp_path / "run", "--max-steps", "2", "train.compile=on")
    torch._dynamo.reset()  # drop the compiled frames of this model for the tests after
    assert summary["steps"] == 2 and summary["eval_loss_after"] == summary["eval_loss_after"]  # not NaN
    assert len(BROKEN_CALLS) == 1  # failed once, at the first forward; every graph after ran eagerly
    err = capsys.readouterr().err
    assert "torch.compile: on" in err
    assert "warning: torch.compile failed (InductorError: CppCompileError: C++ compile error)" in err


def test_compile_auto_is_off_until_measured():
    from thrifty.train.speed import wants_compile

    assert not wants_compile("auto", "cuda") and not wants_compile("auto", "cpu")
    assert wants_compile("on", "cpu") and not wants_compile("off", "cuda")


def test_a_real_cpu_allocation_failure_counts_as_out_of_memory():
    """torch's CPU allocator raises a plain RuntimeError, not torch.OutOfMemoryError. 2**48 bytes
    (256 TiB) is past any x86-64 user address space: it fails at once, nothing is committed."""
    try:
        torch.empty(2**48, dtype=torch.uint8)
    except RuntimeError as exc:
        error = exc
    else:
        pytest.skip("this machine reserved 256 TiB of address space")
    assert not isinstance(error, torch.OutOfMemoryError)
    assert is_out_of_memory(error)
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x2 and 3x2)"))

    def step(model, batch, probe):  # sizes above 2 fail as a real CPU allocation does
        if len(batch) > 2:
            torch.empty(2**48, dtype=torch.uint8)

    choice = search_micro_batch(torch.nn.Linear(2, 2), _rows(8), lambda rows: rows, 8, _probe(), step)
    assert choice.micro_batch_size in (1, 2) and choice.tried[-1] == {"size": 4, "note": "out of memory"}


def test_bf16_base_keeps_the_base_in_bf16_and_the_adapter_in_fp32(tiny_model, alpaca_file, tmp_path):
    from safetensors import safe_open

    from thrifty.config import load_config
    from thrifty.train.run import train

    overrides = [f"model.name={tiny_model}", f"data.path={alpaca_file}", f"output.dir={tmp_path / 'run'}"]
    overrides += ["train.precision=bf16-base", "train.max_steps=2", "data.max_seq_len=128"]
    from peft.tuners.tuners_utils import BaseTunerLayer
    from transformers import TrainerCallback

    seen = []

    class Casts(TrainerCallback):  # what peft does with the adapters' inputs while training
        def on_step_end(self, args, state, control, model=None, **kwargs):
            seen.extend(m.cast_input_dtype_enabled for m in model.modules() if isinstance(m, BaseTunerLayer))

    result = train(load_config(None, overrides), progress=False, callbacks=[Casts()])
    assert result.summary["precision"] == "bf16-base"
    assert seen and not any(seen)  # activations stayed bf16 in training: no casts up to the adapters'
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():  # after training the model runs outside autocast too (casts back on)
        assert torch.isfinite(result.model(input_ids=ids).logits).all()
    params = dict(result.model.named_parameters())
    trainable = {n: p.dtype for n, p in params.items() if p.requires_grad}
    frozen = {p.dtype for p in params.values() if not p.requires_grad}
    assert trainable and set(trainable.values()) == {torch.float32} and frozen == {torch.bfloat16}
    assert result.summary["eval_loss_after"] < result.summary["eval_loss_before"]  # it learned
    with safe_open(tmp_path / "run" / "adapter" / "adapter_model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}


def test_regional_compile_compiles_each_decoder_block(tiny_model, alpaca_file, tmp_path, capsys, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compiled.append(type(self).__name__))
    summary = _train(tiny_model, alpaca_file, tmp_path / "run", "--max-steps", "1", "train.compile=regional")
    assert compiled == ["LlamaDecoderLayer", "LlamaDecoderLayer"]  # the 2 blocks, not the whole model
    assert "torch.compile: regional, 2 decoder blocks" in capsys.readouterr().err
    assert summary["train_loss"] > 0
