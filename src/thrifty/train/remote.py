"""Copy completed checkpoints to any fsspec URL in the background, and fetch them back on a new machine.

Layout mirrors the local one: REMOTE/checkpoints/step-000050/... with manifest.json uploaded last, so a
checkpoint whose upload was cut short has no manifest and is never taken.
"""

import queue
import shutil
import sys
import threading
from pathlib import Path
from typing import Any

from thrifty.errors import UserError
from thrifty.train.checkpoint import (
    CHECKPOINTS,
    MANIFEST,
    manifest_problem,
    parse_step,
    read_manifest,
    step_name,
    verify,
)

# Seconds the start-up check waits: s3fs and botocore retry a refused connection for ~30 s on their own.
CHECK_TIMEOUT_S = 60.0
PROBE = ".thrifty-write-probe"


class Remote:
    """One remote checkpoint folder reached through fsspec (s3://, gs://, az://, file://, memory://...)."""

    def __init__(self, url: str, options: dict[str, Any] | None = None):
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **(options or {}))
        except (ImportError, ValueError) as exc:
            raise UserError(f"checkpoint.remote {url}: {_one_line(exc)}") from None
        self.root = self.root.rstrip("/")

    def check(self, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        """Fail before training, not after the first checkpoint, when the remote cannot be reached."""
        problem: list[BaseException] = []

        def probe() -> None:
            try:
                # A write and a delete: proves reachability, credentials and permission in one go.
                self.fs.makedirs(self._path(CHECKPOINTS), exist_ok=True)
                self.fs.pipe_file(self._path(PROBE), b"thrifty")
                self.fs.rm_file(self._path(PROBE))
            except Exception as exc:  # fsspec backends raise anything from OSError to botocore errors
                problem.append(exc)

        worker = threading.Thread(target=probe, daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            raise UserError(f"checkpoint.remote {self.url} is unreachable: no answer in {timeout_s:.0f} s")
        if problem:
            raise UserError(f"checkpoint.remote {self.url} is unreachable: {_one_line(problem[0])}")

    def _path(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    def steps(self) -> list[int]:
        """Steps of the remote checkpoints whose manifest arrived (upload finished), newest first."""
        try:
            entries = self.fs.ls(self._path(CHECKPOINTS), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            step = parse_step(entry.rstrip("/").rsplit("/", 1)[-1])
            if step is not None and self.fs.exists(self._path(CHECKPOINTS, step_name(step), MANIFEST)):
                found.append(step)
        return sorted(found, reverse=True)

    def upload(self, folder: Path) -> None:
        manifest = read_manifest(folder) or {}
        target = self._path(CHECKPOINTS, folder.name)
        for rel in manifest.get("files", {}):
            self._put(folder / rel, f"{target}/{rel}")
        self._put(folder / MANIFEST, f"{target}/{MANIFEST}")

    def _put(self, local: Path, remote: str) -> None:
        # Local paths need their folders; on object stores this is a no-op once the bucket exists.
        self.fs.makedirs(remote.rsplit("/", 1)[0], exist_ok=True)
        self.fs.put_file(str(local), remote)

    def download(self, step: int, run_dir: Path) -> Path:
        """Fetch step into RUN/checkpoints/ via a temporary folder; verified before it is renamed in."""
        name = step_name(step)
        source = self._path(CHECKPOINTS, name)
        tmp = run_dir / CHECKPOINTS / f".download-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.fs.get_file(f"{source}/{MANIFEST}", str(tmp / MANIFEST))
        manifest = read_manifest(tmp)
        problem = manifest_problem(tmp, manifest)
        if problem is None and manifest.get("step") != step:
            problem = f"manifest.json is for step {manifest.get('step')!r}, not {step}"
        if problem:  # checked before anything is fetched: a hostile name writes nowhere
            shutil.rmtree(tmp)
            raise UserError(
                f"checkpoint.remote {self.url}: {name}/{problem}; this checkpoint was not written by "
                "thrifty: delete it there or point checkpoint.remote elsewhere"
            )
        for rel in manifest["files"]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(f"{source}/{rel}", str(tmp / rel))
        problem = verify(tmp)
        if problem:
            shutil.rmtree(tmp)
            raise ValueError(problem)
        final = run_dir / CHECKPOINTS / name
        tmp.rename(final)
        return final

    def prune(self, keep: set[str]) -> None:
        """Delete remote checkpoints the local retention dropped; manifest first, as locally."""
        for step in self.steps():
            name = step_name(step)
            if name not in keep:
                self.fs.rm(self._path(CHECKPOINTS, name, MANIFEST))
                self.fs.rm(self._path(CHECKPOINTS, name), recursive=True)


class Uploader:
    """A background thread that uploads checkpoints in order, so the training loop never waits on the network."""

    def __init__(self, remote: Remote, run_dir: Path):
        self.remote, self.run_dir = remote, run_dir
        self.queue: queue.Queue[Path | None] = queue.Queue()
        self._pending: set[Path] = set()
        self._lock = threading.Lock()
        self.uploaded: list[Path] = []
        self.failures: list[str] = []
        self.thread = threading.Thread(target=self._work, name="thrifty-upload", daemon=True)
        self.thread.start()

    def submit(self, folder: Path) -> None:
        with self._lock:
            self._pending.add(folder)
        self.queue.put(folder)

    def pending(self) -> set[Path]:
        """Folders not yet uploaded: local retention must not delete them under the uploader."""
        with self._lock:
            return set(self._pending)

    def _work(self) -> None:
        while (folder := self.queue.get()) is not None:
            try:
                self.remote.upload(folder)
                self.uploaded.append(folder)
                local = {
                    p.name for p in (self.run_dir / CHECKPOINTS).iterdir() if parse_step(p.name) is not None
                }
                self.remote.prune(local)
            except Exception as exc:  # a flaky network must not kill training; the next upload retries
                self.failures.append(f"{folder.name}: {_one_line(exc)}")
                print(
                    f"warning: upload of {folder.name} to {self.remote.url} failed: {_one_line(exc)}",
                    file=sys.stderr,
                )
            finally:
                with self._lock:
                    self._pending.discard(folder)

    def close(self, timeout: float | None = None) -> None:
        """Wait for queued uploads (a preempted machine still has its notice period to finish them)."""
        self.queue.put(None)
        self.thread.join(timeout)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
