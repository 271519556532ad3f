"""The micro-batch search runs the way training will: on the training device, in the training
precision, with training's loss head and checkpointing, against free memory. No GPU here: the tests
call `choose_micro_batch(..., "cuda")`, the CUDA run's own code, with the CUDA probe swapped for a fake
whose peak, limit and clock they control."""

import sys
import weakref
from contextlib import nullcontext

import pytest
import torch

from thrifty.config.schema import RunConfig
from thrifty.train import autobatch
from thrifty.train.autobatch import DeviceProbe, cuda_probe, place_model, to_device
from thrifty.train.speed import choose_micro_batch, make_collator

BYTES_PER_TOKEN = 1000  # the fake device's peak: tokens of the largest forward since the reset


def _config(tiny_model, **train) -> RunConfig:
    train = {"micro_batch_size": 8, "gradient_accumulation_steps": 1, **train}
    return RunConfig.model_validate({"model": {"name": str(tiny_model)}, "train": train})


def _rows() -> list[dict]:
    """Eight rows, longest first 24, 22, ..., 10 tokens: the search takes them longest first."""
    return [{"input_ids": [5] * n, "labels": [-100] * 2 + [5] * (n - 2)} for n in range(10, 26, 2)]


def _tokens(size: int) -> int:
    return sum(sorted((len(r["input_ids"]) for r in _rows()), reverse=True)[:size])


def _model(tiny_model, config):
    from thrifty.models.load import load_tokenizer
    from thrifty.train.trainer import build_model

    return build_model(str(tiny_model), config), load_tokenizer(str(tiny_model), config.model)


class FakeCuda:
    """A fake GPU on the CPU: peak = BYTES_PER_TOKEN x the largest forward's tokens since the reset; the
    clock moves 1 s + 1 ms per token per forward, so larger batches are faster per token."""

    def __init__(self, model, limit: int):
        self.limit, self.now, self.largest, self.forwards = limit, 0.0, 0, []
        self.emptied: list[tuple] = []  # (exception in flight, live tensors of a failed step) per call
        self.held: list[weakref.ref] = []  # tensors a failed step's frames hold
        model.register_forward_pre_hook(self.forward, with_kwargs=True)

    def forward(self, module, args, kwargs):
        tokens = kwargs["input_ids"].numel()
        self.forwards.append(
            (
                kwargs["input_ids"].device.type,
                torch.is_autocast_enabled("cpu"),
                torch.get_autocast_dtype("cpu"),
            )
        )
        self.largest = max(self.largest, tokens)
        self.now += 1.0 + tokens / 1000

    def probe(self, precision: str) -> DeviceProbe:
        def reset():
            self.largest = 0

        def empty():
            self.emptied.append((sys.exc_info()[0], sum(ref() is not None for ref in self.held)))

        return DeviceProbe(
            device=torch.device("cpu"),
            limit_bytes=lambda: self.limit,
            reset_peak=reset,
            peak_bytes=lambda: self.largest * BYTES_PER_TOKEN,
            autocast=autobatch.autocast_for("cpu", precision),
            empty_cache=empty,
            clock=lambda: self.now,
        )


@pytest.fixture
def fake_cuda(monkeypatch):
    """Install a FakeCuda as the "cuda" probe: fake_cuda(model, limit) -> the fake."""

    def install(model, limit: int = 2**62) -> FakeCuda:
        fake = FakeCuda(model, limit)
        monkeypatch.setitem(autobatch.PROBES, "cuda", fake.probe)
        return fake

    return install


def test_a_fake_cuda_limit_that_trips_at_4_chooses_2(tiny_model, fake_cuda, capsys):
    config = _config(tiny_model)
    model, tokenizer = _model(tiny_model, config)
    limit = (_tokens(2) + _tokens(4)) // 2 * BYTES_PER_TOKEN  # 1 and 2 fit, 4 does not
    fake = fake_cuda(model, limit)
    chosen, state = choose_micro_batch(
        model, _rows(), make_collator(config, tokenizer, "cuda"), config, {}, "cuda"
    )
    assert (chosen.train.micro_batch_size, chosen.train.gradient_accumulation_steps) == (2, 4)
    assert state == {"micro_batch": [2, 4]}
    err = capsys.readouterr().err
    assert "4: peak" in err and "over the" in err and "micro_batch_size=2" in err
    assert len(fake.forwards) == 6  # sizes 1, 2, 4 twice each; 8 is never tried
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_a_fake_oom_at_4_chooses_2_leaves_no_grads_and_frees_the_step_first(tiny_model, fake_cuda):
    config = _config(tiny_model)
    model, tokenizer = _model(tiny_model, config)
    fake = fake_cuda(model)
    first_layer = model.base_model.model.model.layers[0]

    def oom_in_backward(module, grad_input, grad_output):  # later layers' LoRA grads exist by now
        if fake.largest >= _tokens(4):
            activations = torch.ones(4096)  # what a real step's frames hold
            fake.held.append(weakref.ref(activations))
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    first_layer.register_full_backward_hook(oom_in_backward)
    chosen, _ = choose_micro_batch(
        model, _rows(), make_collator(config, tokenizer, "cuda"), config, {}, "cuda"
    )
    assert chosen.train.micro_batch_size == 2 and chosen.train.gradient_accumulation_steps == 4
    assert all(p.grad is None for p in model.parameters())
    assert fake.held  # the OOM did happen inside backward
    # Every cache emptying came with no exception in flight and the failed step's tensors released.
    assert fake.emptied and all(emptied == (None, 0) for emptied in fake.emptied)


def test_a_device_mismatch_is_not_an_out_of_memory(tiny_model, fake_cuda):
    config = _config(tiny_model)
    model, tokenizer = _model(tiny_model, config)
    fake_cuda(model)

    def mismatch(module, args, kwargs):
        raise RuntimeError("Expected all tensors to be on the same device, but found cuda:0 and cpu!")

    model.register_forward_pre_hook(mismatch, with_kwargs=True)
    with pytest.raises(RuntimeError, match="same device"):
        choose_micro_batch(model, _rows(), make_collator(config, tokenizer, "cuda"), config, {}, "cuda")


def test_the_search_runs_in_the_training_precision_and_checkpointing(tiny_model):
    """The real CPU probe: train.precision=bf16 trains under bf16 autocast and
    train.gradient_checkpointing changes the peak, so the search runs with both (fails on the old code,
    whose trial steps ran in fp32 without checkpointing whatever the config said)."""
    config = _config(
        tiny_model, precision="bf16", gradient_checkpointing=True, auto_micro_batch="on", micro_batch_size=2
    )
    model, tokenizer = _model(tiny_model, config)
    seen = []

    def record(module, args, kwargs):
        autocast = (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))
        seen.append((*autocast, module.is_activation_checkpointing))

    model.register_forward_pre_hook(record, with_kwargs=True)
    choose_micro_batch(model, _rows(), make_collator(config, tokenizer, "cpu"), config, {}, "cpu")
    assert seen and all(s == (True, torch.bfloat16, True) for s in seen)


def test_liger_is_applied_before_the_first_trial(tiny_model, fake_cuda, monkeypatch):
    """On CUDA with Liger installed training's loss is Liger's fused linear+cross-entropy (no logits):
    the search measures that head, patched by the same call the Trainer makes."""
    import transformers.integrations.liger as liger

    import thrifty.train.speed as speed

    config = _config(tiny_model)
    model, tokenizer = _model(tiny_model, config)
    collate = make_collator(config, tokenizer, "cuda")
    fake = fake_cuda(model)
    patched = []
    monkeypatch.setattr(speed, "use_liger", lambda device: device == "cuda")
    monkeypatch.setattr(
        liger, "apply_liger_kernel", lambda m, cfg: patched.append((m, cfg, len(fake.forwards)))
    )
    choose_micro_batch(model, _rows(), collate, config, {}, "cuda")
    assert patched == [(model, None, 0)]  # before any trial step
    assert fake.forwards


def test_the_model_goes_where_the_trainer_puts_it_and_batches_follow():
    """Placement as HF Trainer does it: a device_map'd or bitsandbytes-quantized model stays put."""

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 2)

    plain, mapped, quantized = Model(), Model(), Model()
    mapped.hf_device_map = {"": "cpu"}
    quantized.quantization_method = "bitsandbytes"
    for model in (plain, mapped, quantized):
        place_model(model, "meta")
    assert plain.linear.weight.device.type == "meta"
    assert mapped.linear.weight.device.type == quantized.linear.weight.device.type == "cpu"
    moved = to_device({"input_ids": torch.ones(1, 3), "rows": [torch.ones(2)], "use_cache": False}, "meta")
    assert moved["input_ids"].is_meta and moved["rows"][0].is_meta and moved["use_cache"] is False


def test_the_cuda_limit_is_free_memory_plus_what_this_process_holds(monkeypatch):
    """80 GiB card, 30 GiB used by another process, 10 GiB by this one: 0.9 x 50 GiB, not 0.9 x 80."""
    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (40 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 10 * gib)
    probe = cuda_probe("bf16")
    assert probe.limit_bytes() == int(50 * gib * 0.9)
    assert probe.device == torch.device("cuda", 0)
    assert autobatch.autocast_for("cuda", "fp32") is nullcontext
