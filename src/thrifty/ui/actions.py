"""Start, stop and resume `thrifty train` as subprocesses: argument lists, never shell strings.

The processes run in their own session, so stopping the page (Ctrl-C) leaves training running; their
output goes to RUNS/.thrifty-ui/logs/ and how each ended to RUNS/.thrifty-ui/processes.json, so a
restarted page still knows a run it started exited 75 (preempted) and not 1 (failed)."""

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from thrifty.errors import UserError
from thrifty.ui.status import RUNNING, live_trainers, run_status

STATE = ".thrifty-ui"


class Launcher:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.state = self.root / STATE
        self.procs: dict[Path, subprocess.Popen] = {}
        self.stops: set[int] = set()  # pids sent a SIGTERM: a second one would skip the checkpoint
        self.lock = threading.Lock()

    def start(self, run_dir: Path, args: list[str]) -> subprocess.Popen:
        """`python -m thrifty ARGS` writing into `run_dir`; its output goes to the run's log."""
        run_dir = run_dir.resolve()
        log_path = self.log_path(run_dir)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "thrifty", *args]
        with log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        with self.lock:
            self.procs[run_dir] = proc
            self._record(run_dir, {"pid": proc.pid, "argv": argv, "started_at": _now(), "exit_code": None})
        return proc

    def train(self, run_dir: Path, overrides: list[str]) -> subprocess.Popen:
        return self.start(run_dir, ["train", *overrides, f"output.dir={run_dir}", "--no-progress"])

    def resume(self, run_dir: Path) -> subprocess.Popen:
        """The CLI's own resume: the run's resolved config, its folder, --resume auto."""
        status = self.status(run_dir)
        if not status.resumable or status.name == RUNNING:
            raise UserError(f"{run_dir.name} is {status.name}: only a stopped run with a checkpoint resumes")
        config = str(run_dir / "config.yaml")
        return self.start(
            run_dir, ["train", config, "--output", str(run_dir), "--resume", "auto", "--no-progress"]
        )

    def stop(self, run_dir: Path) -> str:
        """SIGTERM once: the run finishes its step, writes a checkpoint and exits 75."""
        status = self.status(run_dir)
        if status.name != RUNNING or status.pid is None:
            raise UserError(f"{run_dir.name} is not running ({status.name})")
        if status.pid in self.stops:
            return f"stop already sent to pid {status.pid}; it is writing its checkpoint"
        os.kill(status.pid, signal.SIGTERM)
        self.stops.add(status.pid)
        return f"SIGTERM sent to pid {status.pid}: it checkpoints and exits 75"

    def exit_code(self, run_dir: Path) -> int | None:
        """How the last process this page started for `run_dir` ended (None: running or never started)."""
        run_dir = run_dir.resolve()
        with self.lock:
            proc = self.procs.get(run_dir)
            if proc is not None and proc.poll() is not None:
                self.procs.pop(run_dir)
                self._update(run_dir, proc.returncode)
        record = self._records().get(str(run_dir)) or {}
        return record.get("exit_code")

    def status(self, run_dir: Path, live: dict[Path, int] | None = None):
        code = self.exit_code(run_dir)
        return run_status(run_dir, live_trainers() if live is None else live, code)

    def started(self, run_dir: Path) -> bool:
        """This page started a process for `run_dir` (whose folder may not exist yet: the CLI creates it
        once its imports are done, seconds after the start)."""
        return str(run_dir.resolve()) in self._records()

    def log_path(self, run_dir: Path) -> Path:
        slug = run_dir.resolve().relative_to(self.root).as_posix().replace("/", "__")
        return self.state / "logs" / f"{slug}.log"

    def log_tail(self, run_dir: Path, limit: int = 20_000) -> str:
        """The last `limit` bytes of the run's log (what the CLI printed), '' when this page never ran it."""
        try:
            data = self.log_path(run_dir).read_bytes()
        except (OSError, ValueError):
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def _records(self) -> dict:
        try:
            return json.loads((self.state / "processes.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def _record(self, run_dir: Path, record: dict) -> None:
        records = self._records()
        records[str(run_dir)] = record
        self.state.mkdir(parents=True, exist_ok=True)
        tmp = self.state / "processes.json.tmp"
        tmp.write_text(json.dumps(records, indent=1), encoding="utf-8")
        tmp.replace(self.state / "processes.json")

    def _update(self, run_dir: Path, code: int) -> None:
        record = self._records().get(str(run_dir)) or {}
        self._record(run_dir, {**record, "exit_code": code, "ended_at": _now()})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
