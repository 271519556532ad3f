"""Wires the preemption-safety pieces around `trainer.train()`: checkpoints, signals, notice poller, uploads."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.errors import Preempted
from thrifty.train.checkpoint import CheckpointCallback
from thrifty.train.preemption import NoticePoller, StopFlag, install_signal_handlers
from thrifty.train.remote import Uploader
from thrifty.train.resume import ResumePlan

# Seconds to wait for queued uploads when the run ends; a spot notice leaves 30-120 s in all.
UPLOAD_WAIT_S = 90.0


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
        trainer.add_callback(self.callback)
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
        """After a stop request the checkpoint is on disk (and uploaded): tell the caller to exit 75."""
        if self.stop.reason is None:
            return
        where = self.callback.last_path or "the previous checkpoint"
        raise Preempted(
            f"stopped at step {step} on {self.stop.reason}; checkpoint {where}; "
            "run the same command with --resume auto to continue"
        )

    def stats(self) -> dict[str, Any]:
        seconds = self.callback.seconds
        return {
            "checkpoints_written": len(seconds),
            "checkpoint_seconds": round(sum(seconds), 3),
            "uploads": len(self.uploader.uploaded) if self.uploader else 0,
        }
