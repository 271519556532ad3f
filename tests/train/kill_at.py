"""Run `thrifty train` in this process and send it signals at an exact point of the run.

Usage: python kill_at.py STEP SIGNAL[,SIGNAL...] {step,micro,eval,save} -- thrifty train arguments...
`step`: right after optimizer step STEP (before its checkpoint is written); `micro`: after the first
micro-batch of the step following STEP (between gradient-accumulation micro-steps); `eval`: after the
first batch of an evaluation at global step STEP (STEP = max_steps: the final one); `save`: inside the
final save, once the weights are written to their temporary folder and before it is renamed into
place (STEP unused). The signals are sent one after another (SIGTERM,SIGTERM: the second one exits).
"""

import os
import signal
import sys

from transformers import TrainerCallback

import thrifty.train.save as save_module
import thrifty.train.trainer as trainer_module
from thrifty.cli import main


class SignalAt(TrainerCallback):
    def __init__(self, step: int, signums: list[int], where: str):
        self.step, self.signums, self.where, self.sent = step, signums, where, False

    def fire(self):
        if not self.sent:
            self.sent = True
            for signum in self.signums:
                os.kill(os.getpid(), signum)

    def on_step_end(self, args, state, control, **kwargs):
        if self.where == "step" and state.global_step == self.step:
            self.fire()

    def on_substep_end(self, args, state, control, **kwargs):
        if self.where == "micro" and state.global_step == self.step:
            self.fire()

    def on_prediction_step(self, args, state, control, **kwargs):
        if self.where == "eval" and state.global_step == self.step:
            self.fire()


def install(step: int, signums: list[int], where: str) -> None:
    signaller = SignalAt(step, signums, where)
    build_trainer, save_outputs = trainer_module.build_trainer, save_module.save_outputs

    def build_trainer_signalling(*args, **kwargs):
        trainer, metrics = build_trainer(*args, **kwargs)
        trainer.add_callback(signaller)
        return trainer, metrics

    def save_outputs_signalling(trainer, tokenizer, run_dir, *args):
        model = trainer.model
        save_weights = model.save_pretrained

        def save_then_signal(*args, **kwargs):
            save_weights(*args, **kwargs)
            signaller.fire()

        model.save_pretrained = save_then_signal  # an instance attribute: only this model, only this save
        try:
            save_outputs(trainer, tokenizer, run_dir, *args)
        finally:
            del model.save_pretrained

    trainer_module.build_trainer = build_trainer_signalling  # train() imports it at call time
    if where == "save":
        save_module.save_outputs = save_outputs_signalling


if __name__ == "__main__":
    step, names, where, sep, *rest = sys.argv[1:]
    assert sep == "--"
    install(int(step), [getattr(signal, name) for name in names.split(",")], where)
    sys.exit(main(rest))
