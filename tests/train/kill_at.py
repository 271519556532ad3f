"""Run `thrifty train` in this process and send it a signal at an exact point of training.

Usage: python kill_at.py STEP SIGNAL {step,micro} -- thrifty train arguments...
`step`: right after optimizer step STEP (before its checkpoint is written); `micro`: after the first
micro-batch of the step following STEP (between gradient-accumulation micro-steps).
"""

import os
import signal
import sys

from transformers import TrainerCallback

import thrifty.train.run as run
from thrifty.cli import main


class SignalAt(TrainerCallback):
    def __init__(self, step: int, signum: int, where: str):
        self.step, self.signum, self.where, self.sent = step, signum, where, False

    def _fire(self):
        if not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)

    def on_step_end(self, args, state, control, **kwargs):
        if self.where == "step" and state.global_step == self.step:
            self._fire()

    def on_substep_end(self, args, state, control, **kwargs):
        if self.where == "micro" and state.global_step == self.step:
            self._fire()


def install(step: int, signum: int, where: str) -> None:
    original = run.build_trainer

    def build_trainer(*args, **kwargs):
        trainer, metrics = original(*args, **kwargs)
        trainer.add_callback(SignalAt(step, signum, where))
        return trainer, metrics

    run.build_trainer = build_trainer


if __name__ == "__main__":
    step, name, where, sep, *rest = sys.argv[1:]
    assert sep == "--"
    install(int(step), getattr(signal, name), where)
    sys.exit(main(rest))
