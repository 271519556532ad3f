"""The callback tests/distributed/hook/sitecustomize.py installs in a launched worker (see there)."""

import os
import signal

from transformers import TrainerCallback

import thrifty.train.trainer as trainer_module


class SignalJobAt(TrainerCallback):
    def __init__(self, step: int, signum: int, target: str):
        self.step, self.signum, self.target, self.sent = step, signum, target, False

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step != self.step or self.sent:
            return
        self.sent = True
        import psutil

        launcher = psutil.Process(
            psutil.Process(os.getppid()).ppid()
        )  # worker -> accelerate's agent -> thrifty
        if self.target == "job":  # torchrun starts each worker in its own session: kill the tree itself
            for process in [launcher, *launcher.children(recursive=True)]:
                if process.pid != os.getpid():
                    process.send_signal(self.signum)
            os.kill(os.getpid(), self.signum)
        elif self.target == "peer":  # the other workers of this machine: one rank dies
            for process in psutil.Process(os.getppid()).children():
                if process.pid != os.getpid():
                    process.send_signal(self.signum)
        else:
            wait_for_the_stop_to_arrive(lambda: launcher.send_signal(self.signum))


def wait_for_the_stop_to_arrive(send, timeout_s: float = 60.0) -> None:
    """Send, then hold this step until the launcher's SIGUSR1 (its stop passed on) reaches this worker:
    on a loaded 2-core machine the launcher can otherwise take longer to pass it on than the few
    remaining steps take, and the run finishes before the stop (seen 2026-12-04 at load ~5)."""
    import time

    arrived = []
    previous = signal.getsignal(signal.SIGUSR1)

    def note(signum, frame):
        arrived.append(signum)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGUSR1, note)
    try:
        send()
        deadline = time.monotonic() + timeout_s
        while not arrived and time.monotonic() < deadline:
            time.sleep(0.05)  # signal handlers run in the main thread between these sleeps
    finally:
        signal.signal(signal.SIGUSR1, previous)


def install(spec: str) -> None:
    step, name, target = spec.split(":")
    callback = SignalJobAt(int(step), getattr(signal, name), target)
    build_trainer = trainer_module.build_trainer

    def build_trainer_signalling(*args, **kwargs):
        trainer, metrics = build_trainer(*args, **kwargs)
        trainer.add_callback(callback)
        return trainer, metrics

    trainer_module.build_trainer = build_trainer_signalling  # train() imports it at call time
