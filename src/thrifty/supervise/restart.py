"""`thrifty run`: rerun `thrifty train --resume auto` after preemptions and crashes, with backoff.

Exit 0 ends it; exit 2 (bad input) ends it at once, since rerunning cannot fix a config. A signal to the
supervisor is passed on to the training, which checkpoints and exits 75; the supervisor then exits too.
"""

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

from thrifty.errors import EXIT_USER_ERROR

MAX_BACKOFF_S = 300.0  # a preempted zone rarely recovers faster; beyond 5 minutes just retry


def child_command(args: argparse.Namespace, config) -> list[str]:
    """The `thrifty train` command line the supervisor reruns: same inputs, a fixed run folder, --resume auto."""
    from thrifty.config.args import flag_arguments
    from thrifty.train.folder import default_run_dir

    command = [sys.executable, "-m", "thrifty", "train", *args.args, *flag_arguments(args)]
    run_dir = Path(config.output.dir) if config.output.dir else default_run_dir(config)
    command += [f"output.dir={run_dir}", "--resume", "auto"]
    return command + (["--no-progress"] if args.no_progress else [])


def backoff_seconds(attempt: int, base: float) -> float:
    return min(base * 2**attempt, MAX_BACKOFF_S)


def supervise(command: list[str], restarts: int, base_backoff: float) -> int:
    """Run `command` until it exits 0 or 2, at most `restarts` reruns; returns the last exit code."""
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for attempt in range(restarts + 1):
            child = subprocess.Popen(command)
            code = _exit_code(child.wait())
            if code == 0 or code == EXIT_USER_ERROR or stopping:
                return code
            if attempt == restarts:
                print(f"supervisor: giving up after {restarts} restarts (last exit {code})", file=sys.stderr)
                return code
            delay = backoff_seconds(attempt, base_backoff)
            print(
                f"supervisor: training exited {code}; resuming in {delay:.0f} s "
                f"(restart {attempt + 1} of {restarts})",
                file=sys.stderr,
            )
            time.sleep(delay)
        return code
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _exit_code(returncode: int) -> int:
    """subprocess reports death by signal N as -N; shells say 128+N."""
    return 128 - returncode if returncode < 0 else returncode
