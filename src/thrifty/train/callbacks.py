"""Trainer callbacks: metrics.jsonl and a progress bar with loss, tokens/s and ETA."""

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from thrifty.io import append_jsonl

# Keys of a log that metrics.jsonl does not copy as they come: written under thrifty's own names above
# (the token count as tokens_seen; TRL's num_tokens lives on its trainer, not in the TrainerState a
# checkpoint restores, so it restarts at 0 after a resume), or timings, which differ between a run and
# its resume.
HANDLED = {
    "loss",
    "learning_rate",
    "grad_norm",
    "eval_loss",
    "epoch",
    "num_input_tokens_seen",
    "total_flos",
    "num_tokens",
    "eval_num_tokens",
}


def is_timing(key: str) -> bool:
    return key.endswith(("_runtime", "_per_second", "_time"))


class MetricsCallback(TrainerCallback):
    """Appends one line per log event to metrics.jsonl and keeps the history in memory: thrifty's fields
    (loss, learning_rate, grad_norm, tokens, eval_loss) and every other number the trainer logged."""

    def __init__(self, path: Path):
        self.path = path
        self.history: list[dict[str, Any]] = []
        self._last_time = time.perf_counter()
        self._last_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last_time, self._last_tokens = time.perf_counter(), state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        now, tokens = time.perf_counter(), state.num_input_tokens_seen
        record: dict[str, Any] = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4)}
        if "loss" in logs:
            elapsed = max(now - self._last_time, 1e-9)
            record.update(
                loss=logs["loss"],
                learning_rate=logs.get("learning_rate"),
                grad_norm=logs.get("grad_norm"),
                tokens_seen=tokens,
                tokens_per_second=round((tokens - self._last_tokens) / elapsed, 2),
            )
            self._last_time, self._last_tokens = now, tokens
        if "eval_loss" in logs:
            record["eval_loss"] = logs["eval_loss"]
        if "train_loss" in logs:  # the end-of-training summary log: its figures are in summary.json
            return
        # Whatever else the trainer logs that is a number (TRL's rewards/*, logps/*, ...), as named.
        record.update(
            (k, v)
            for k, v in logs.items()
            if k not in HANDLED
            and not is_timing(k)
            and isinstance(v, int | float)
            and not isinstance(v, bool)
        )
        if len(record) > 2:
            self.history.append(record)
            if state.is_world_process_zero:  # logs are gathered over ranks: one writer
                append_jsonl(self.path, record)


class ProgressCallback(TrainerCallback):
    """A tqdm bar over optimizer steps; tqdm supplies the ETA."""

    def __init__(self):
        self.bar = None
        self._start = 0.0
        self._start_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=state.max_steps, desc="train", unit="step", dynamic_ncols=True)
        self._start, self._start_tokens = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is None or not logs:
            return
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        postfix = {"tok/s": f"{(state.num_input_tokens_seen - self._start_tokens) / elapsed:.0f}"}
        if "loss" in logs:
            postfix["loss"] = f"{logs['loss']:.3f}"
        if "eval_loss" in logs:
            postfix["eval"] = f"{logs['eval_loss']:.3f}"
        self.bar.set_postfix(postfix)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TimeLimitCallback(TrainerCallback):
    """Stops training once `seconds` of training time have passed (checked after each optimizer step)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._start = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if time.perf_counter() - self._start >= self.seconds:
            control.should_training_stop = True


class Bf16ActivationsCallback(TrainerCallback):
    """bf16-base trains under bf16 autocast over a base stored in bf16. peft casts every adapter's input
    up to its fp32 weights (and the sum back down): two full-size casts per adapted layer, 18% of a
    SmolLM2 step (bench/profile_step.py). With that cast off while training (peft's own switch, the one
    its disable_input_dtype_casting sets) autocast casts only the small adapter weights and the
    activations stay bf16; the fp32 adapter weights stay the optimizer's master copy. Back on after
    training, so the trained model also runs outside autocast (generation, a caller's own eval)."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        _cast_adapter_inputs(model, False)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        _cast_adapter_inputs(model, True)


def _cast_adapter_inputs(model, on: bool) -> None:
    from peft.tuners.tuners_utils import BaseTunerLayer

    for module in model.modules() if model is not None else ():
        if isinstance(module, BaseTunerLayer):
            module.cast_input_dtype_enabled = on
