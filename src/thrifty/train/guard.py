"""Wires the preemption-safety pieces around a run from `trainer.train()` to its summary: checkpoints,
signals, notice poller, uploads.

A stop request during training checkpoints the current step. Once training is over: a stop before or
during the final evaluation cuts the evaluation short at its next batch and writes a checkpoint marked
"training done" (if the newest one is not already that), so `--resume auto` only evaluates and saves.
A stop after the evaluation lets the run finish: writing the adapter/model and tokenizer is a subset
of what that checkpoint would write (no optimizer state, ~2x the trainable weights for AdamW, no
sha256 pass), so finishing is always the quicker way to a safe state.
"""

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from thrifty.config.schema import RunConfig
from thrifty.errors import Preempted
from thrifty.train.checkpoint import CheckpointCallback
from thrifty.train.preemption import NoticePoller, StopFlag, install_signal_handlers
from thrifty.train.remote import Uploader
from thrifty.train.resume import ResumePlan

# Seconds to wait for queued uploads when the run ends; a spot notice leaves 30-120 s in all.
UPLOAD_WAIT_S = 90.0
POLL_S = 0.1  # seconds between looks at the upload queue while waiting for it to drain


class FinalEvalStopped(Exception):
    """A stop request cut the final evaluation short; the run checkpoints instead of finishing."""


class _StopFinalEval(TrainerCallback):
    """Added once training is over: ends the final evaluation at the next batch after a stop request."""

    def __init__(self, stop: StopFlag):
        self.stop = stop

    def on_prediction_step(self, args, state, control, **kwargs):
        if self.stop.reason:
            raise FinalEvalStopped(self.stop.reason)

    def on_evaluate(self, args, state, control, **kwargs):
        self.stop.then = "finishing the run (saving takes less time than a checkpoint)"


class Guard:
    """Use as `with Guard(...) as guard: trainer.train(...)`, then `guard.raise_if_stopped()`."""

    def __init__(
        self,
        config: RunConfig,
        run_dir: Path,
        plan: ResumePlan,
        trainer,
        counters: Callable[[], dict[str, Any]],
    ):
        cfg = config.checkpoint
        self.stop = StopFlag()
        self.uploader = Uploader(plan.remote, run_dir) if plan.remote else None
        self.callback = CheckpointCallback(run_dir, cfg, self.stop, counters, plan.state, self.uploader)
        self.callback.trainer = trainer
        if plan.finished:  # nothing trains: the checkpoint resumed from is the run's done checkpoint
            self.callback.done_step, self.callback.last_path = plan.step, plan.checkpoint
        trainer.add_callback(self.callback)
        self.trainer = trainer
        self.poller = (
            NoticePoller(cfg.preemption_url, self.stop, cfg.poll_seconds) if cfg.preemption_url else None
        )
        self._restore_signals: Callable[[], None] = lambda: None

    def __enter__(self) -> "Guard":
        self._restore_signals = install_signal_handlers(self.stop)
        if self.poller:
            self.poller.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.poller:
            self.poller.close()
        self._restore_signals()
        if self.uploader:
            self.uploader.close(UPLOAD_WAIT_S)
            for failure in self.uploader.failures:
                print(f"warning: not uploaded: {failure}", file=sys.stderr)

    def raise_if_stopped(self, step: int) -> None:
        """After a stop request the checkpoint is on disk (and uploaded): tell the caller to exit 75.

        A stop that came after the last step's checkpoint decision wrote none: the final phase handles it.
        """
        if self.stop.reason is None or self.callback.last_step != step:
            return
        where = self.callback.last_path or "the previous checkpoint"
        raise Preempted(
            f"stopped at step {step} on {self.stop.reason}; checkpoint {where}; "
            "run the same command with --resume auto to continue"
        )

    def training_finished(self, train_loss: float) -> None:
        """Training is over (no stop cut it short): from here a stop ends the final evaluation early.

        Uploads queued during training are waited for now (as when the guard ended with training), so the
        summary counts them; a stop request ends the wait: the exit waits for them and the last checkpoint.
        """
        from thrifty.distributed.rank import launched

        self.callback.train_loss = train_loss
        if launched():  # ranks would leave the evaluation at different batches and wait on each other
            self.stop.then = "finishing the run (the final evaluation is not cut short in a launched job)"
        else:
            self.stop.then = "ending the final evaluation and writing a checkpoint"
            self.trainer.add_callback(_StopFinalEval(self.stop))
        if self.uploader:
            deadline = time.monotonic() + UPLOAD_WAIT_S
            while self.uploader.pending() and time.monotonic() < deadline and not self.stop.reason:
                time.sleep(POLL_S)

    def checkpoint_and_stop(self) -> None:
        """The final evaluation was cut short: checkpoint the last step, marked done (unless the newest
        checkpoint is already that), and raise `Preempted`."""
        trainer = self.trainer
        if self.callback.done_step != trainer.state.global_step:
            trainer._save_checkpoint(trainer.model, trial=None)  # HF's part; on_save adds ours and publishes
            self.callback.on_save(trainer.args, trainer.state, trainer.control)
        raise Preempted(
            f"stopped on {self.stop.reason} during the final evaluation; training is complete in "
            f"checkpoint {self.callback.last_path}; run the same command with --resume auto to evaluate and save"
        )

    def report_late_stop(self) -> None:
        """A stop that came after the final evaluation: the run finished instead of checkpointing."""
        if self.stop.reason:
            print(f"{self.stop.reason} came after the final evaluation: finished the run", file=sys.stderr)

    def stats(self) -> dict[str, Any]:
        seconds = self.callback.seconds
        return {
            "checkpoints_written": len(seconds),
            "checkpoint_seconds": round(sum(seconds), 3),
            "uploads": len(self.uploader.uploaded) if self.uploader else 0,
        }
