"""Stop requests: SIGTERM/SIGINT and cloud preemption notices.

The first request lets the current optimizer step finish, writes a checkpoint and exits with
EXIT_PREEMPTED (75); a second signal exits at once (the previous checkpoint is still there).
"""

import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable

from thrifty.errors import EXIT_PREEMPTED

# Notice endpoints of the instance metadata services. AWS answers 404 until a spot interruption is
# scheduled (then 200 with JSON, 2 minutes ahead); GCP answers "FALSE" until preemption (then "TRUE", 30 s ahead).
PRESETS = {
    "aws": "http://169.254.169.254/latest/meta-data/spot/instance-action",
    "gcp": "http://metadata.google.internal/computeMetadata/v1/instance/preempted",
}
AWS_TOKEN_URL = "http://169.254.169.254/latest/api/token"
TIMEOUT_S = 2.0  # per poll; the metadata services answer in milliseconds


class StopFlag:
    """Set once by a signal handler or the poller; read by the training loop after every optimizer step."""

    def __init__(self):
        self.reason: str | None = None
        self.then = "finishing this step and writing a checkpoint"  # what a request leads to now

    def request(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason


def install_signal_handlers(stop: StopFlag) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to `stop`; returns a function that puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # Python only delivers signals to the main thread

    def handle(signum, frame):
        name = signal.Signals(signum).name
        if signum == signal.SIGUSR1:  # thrifty's launcher passing a stop on: a request, never "again"
            if stop.reason is None:
                stop.request("a stop from the launcher")
            return
        if stop.reason is not None:
            print(f"\n{name} again: exiting now", file=sys.stderr)
            os._exit(EXIT_PREEMPTED)
        stop.request(name)
        print(f"\n{name}: {stop.then} (send it again to exit at once)", file=sys.stderr)

    old = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)}

    def restore() -> None:
        for sig, handler in old.items():
            signal.signal(sig, handler)

    return restore


def is_notice(status: int, body: str) -> bool:
    """200 with a body that is not a 'no' (GCP's 'FALSE', an empty answer) means the machine is going."""
    return status == 200 and body.strip().lower() not in ("", "false", "none", "0")


class NoticePoller(threading.Thread):
    """Polls a preemption-notice URL every `interval_s` seconds and requests a stop when it fires."""

    def __init__(self, url: str, stop: StopFlag, interval_s: float):
        super().__init__(name="thrifty-preemption-poller", daemon=True)
        self.preset = url if url in PRESETS else None
        self.url = PRESETS.get(url, url)
        self.stop_flag, self.interval_s = stop, interval_s
        self.finished = threading.Event()
        self.polls = 0

    def run(self) -> None:
        while not self.finished.wait(self.interval_s if self.polls else 0):
            self.polls += 1
            if self.poll_once():
                self.stop_flag.request(f"preemption notice from {self.url}")
                print(f"\npreemption notice from {self.url}: {self.stop_flag.then}", file=sys.stderr)
                return

    def poll_once(self) -> bool:
        headers = {"Metadata-Flavor": "Google"}  # GCP refuses requests without it; others ignore it
        if self.preset == "aws":
            headers.update(self._aws_token())
        try:
            request = urllib.request.Request(self.url, headers=headers)
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return is_notice(response.status, response.read(4096).decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError, ValueError):
            return False  # 404 (no notice), timeouts and refused connections all mean "keep going"

    def _aws_token(self) -> dict[str, str]:
        """IMDSv2 wants a session token; without one, v2-only instances answer 401."""
        request = urllib.request.Request(
            AWS_TOKEN_URL, method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return {"X-aws-ec2-metadata-token": response.read().decode()}
        except (urllib.error.URLError, OSError):
            return {}

    def close(self) -> None:
        self.finished.set()
