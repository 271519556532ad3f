"""A polite stop for the `thrifty data` jobs that run batch after batch (pairs, augment): the first
SIGTERM/SIGINT lets the current batch finish (the job then commits or writes what it has), a second one
stops at once. Not thrifty.train's handler: curate does not depend on train (train orders data with
curate's scores)."""

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Stop:
    reason: str | None = None  # the signal's name once one came


@contextmanager
def stop_on_signals(job: str, then: str) -> Iterator[Stop]:
    """Within the block, SIGTERM/SIGINT set `stop.reason` (printing `job: SIGNAL: then`); the old
    handlers are back afterwards. Outside the main thread (where Python delivers no signals) a no-op."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handle(signum, frame):
        if stop.reason is not None:
            raise KeyboardInterrupt
        stop.reason = signal.Signals(signum).name
        print(f"{job}: {stop.reason}: {then} (send it again to stop at once)", file=sys.stderr)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
