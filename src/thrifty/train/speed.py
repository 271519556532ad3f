"""The speed defaults a run gets without asking: packing, logits only where learned, compile, Liger.

Each is a decision with a measured reason (docs/performance.md, bench/train_throughput.py); this
module only decides and wires, the work is done by transformers, torch and (on CUDA) Liger.
"""

import importlib.util
import sys
import time
import warnings
from typing import Any

from thrifty.config.schema import RunConfig


def uses_packing(config: RunConfig) -> bool:
    """Packing unless the method prepends virtual tokens to each row (a packed row would share one prefix)."""
    from thrifty.methods.table import method_info

    return config.data.packing and not method_info(config.method.name).padded_only


def use_liger(device: str) -> bool:
    """Liger's fused kernels (RMSNorm, RoPE, SwiGLU, linear+cross-entropy) are Triton: CUDA only."""
    return device == "cuda" and importlib.util.find_spec("liger_kernel") is not None


class TimedCollator:
    """Wraps a collator and adds up the seconds spent building batches (rows are pre-tokenised, so
    this is all the data loader does): the run summary reports it as a share of training time."""

    def __init__(self, collate):
        self.collate = collate
        self.seconds = 0.0

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            return self.collate(rows)
        finally:
            self.seconds += time.perf_counter() - start


def make_collator(config: RunConfig, tokenizer, device: str) -> TimedCollator:
    from thrifty.data.collate import PadCollator
    from thrifty.data.pack import PackCollator

    if uses_packing(config):
        # Liger fuses the head with the loss and never builds logits: nothing left to skip.
        learned_only = config.train.learned_logits_only and not use_liger(device)
        return TimedCollator(PackCollator(learned_logits_only=learned_only))
    return TimedCollator(PadCollator(tokenizer.pad_token_id))


def chunk_loss(model, config: RunConfig, device: str) -> bool:
    """The chunked head+loss on the model, unless Liger's fused one runs instead or the run turned it
    off; returns whether it is on (an architecture it does not know keeps its own loss)."""
    if not config.train.chunked_loss or use_liger(device):
        return False
    from thrifty.models.chunked_loss import install

    return install(model)


def trainer_kwargs(config: RunConfig, device: str) -> dict[str, Any]:
    """TrainingArguments that depend on the speed decisions."""
    return {
        # A packed batch has no padding, and no attention mask to count it from.
        "include_num_input_tokens_seen": "all" if uses_packing(config) else "non_padding",
        "use_liger_kernel": use_liger(device),
    }


# The backend that does the compiling; tests swap in a registered backend that fails.
COMPILE_BACKEND = "inductor"


def wants_compile(setting: str, device: str) -> bool:
    # auto means off everywhere until compile is measured to pay off: never timed on a GPU, and on CPU
    # see docs/performance.md. `device` stays in the signature for when a measurement turns auto on.
    return setting in ("on", "regional")


def compile_model(model, setting: str, device: str):
    """torch.compile the model in place when asked. Compilation happens at the first forward; a
    failure there (EagerFallback), or here, falls back to eager with a warning instead of a crash."""
    if not wants_compile(setting, device):
        return model
    import torch

    try:
        # A frame dynamo itself cannot trace (an internal error, not a graph break) then runs eagerly.
        torch._dynamo.config.suppress_errors = True
        if not torch._dynamo.is_dynamo_supported():
            raise RuntimeError(f"torch.compile is not supported on Python {sys.version.split()[0]}")
        backend = EagerFallback(COMPILE_BACKEND)
        # in place: the model stays a PeftModel, saved and checkpointed as before
        blocks = decoder_blocks(model) if setting == "regional" else [model]
        if not blocks:
            raise RuntimeError(
                "no decoder blocks found to compile (the model names none in _no_split_modules)"
            )
        for block in blocks:
            block.compile(backend=backend)
    except Exception as exc:  # compilers fail in many ways
        warn_compile_failed(exc)
        return model
    where = f"regional, {len(blocks)} decoder blocks" if setting == "regional" else "on"
    print(f"torch.compile: {where} (the first steps compile)", file=sys.stderr)
    return model


def decoder_blocks(model) -> list:
    """The repeated decoder blocks, found by the class names transformers keeps whole when it splits a
    model across devices (`_no_split_modules`): compiled one by one, they share one compiled graph."""
    from thrifty.methods.adapters import base_model_of

    inner = base_model_of(model)
    names = set(getattr(inner, "_no_split_modules", None) or ())
    return [m for m in inner.modules() if type(m).__name__ in names]


class EagerFallback:
    """A dynamo backend: compiles each captured graph with `backend`; when that fails (the realistic
    failure, at the first forward: no C++ compiler, no Triton, an op Inductor cannot lower) it warns
    once and runs that graph, and every later one, eagerly."""

    def __init__(self, backend: str):
        self.backend = backend
        self.failed = False

    def __call__(self, graph, example_inputs):
        if not self.failed:
            import torch

            try:
                return torch._dynamo.lookup_backend(self.backend)(graph, example_inputs)
            except Exception as exc:
                self.failed = True
                warn_compile_failed(exc)
        return graph.forward


def warn_compile_failed(exc: Exception) -> None:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    warnings.warn(f"torch.compile failed ({first}); training without it", stacklevel=2)
    print(f"warning: torch.compile failed ({first}); training without it", file=sys.stderr)


def wants_micro_batch_search(setting: str, device: str) -> bool:
    return setting == "on" or (setting == "auto" and device == "cuda")


def choose_micro_batch(model, rows, collate, config: RunConfig, saved: dict[str, Any], device: str):
    """The config the trainer runs with: micro-batch and accumulation as searched (or as chosen by the
    run being resumed, so a resume replays the same batches), and the state to store in checkpoints.

    The search runs the way training will: on the training device, in the training precision, with
    the training loss head and activation checkpointing, against the memory still free there."""
    from thrifty.hardware import resolve_precision
    from thrifty.train.autobatch import device_probe, place_model, search_micro_batch

    t = config.train
    if "micro_batch" in saved:
        micro, accum = saved["micro_batch"]
    elif wants_micro_batch_search(t.auto_micro_batch, device):
        probe = device_probe(device, resolve_precision(t.precision, config.method.name))
        place_model(model, probe.device)
        prepare_like_trainer(model, config, device)
        effective = t.micro_batch_size * t.gradient_accumulation_steps
        choice = search_micro_batch(model, rows, collate, effective, probe)
        print(choice.describe(), file=sys.stderr)
        micro, accum = choice.micro_batch_size, choice.gradient_accumulation_steps
    else:
        return config, {}
    train = t.model_copy(update={"micro_batch_size": micro, "gradient_accumulation_steps": accum})
    return config.model_copy(update={"train": train}), {"micro_batch": [micro, accum]}


def prepare_like_trainer(model, config: RunConfig, device: str) -> None:
    """What HF Trainer.train() does to the model before its first step, done now so the search measures
    it: Liger's kernels (fused linear+cross-entropy builds no logits; the Trainer applies the same patch
    again, which changes nothing) and activation checkpointing, with the kwargs trainer.py passes."""
    if use_liger(device):
        from transformers.integrations.liger import apply_liger_kernel

        apply_liger_kernel(model, None)  # TrainingArguments.liger_kernel_config stays None
    if config.train.gradient_checkpointing:
        kwargs = {"use_reentrant": False}  # trainer.training_arguments' activation_checkpointing_kwargs
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:  # a model that only has the older name, as the Trainer falls back to
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
