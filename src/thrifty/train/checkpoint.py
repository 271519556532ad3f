"""Atomic, verified checkpoints: RUN/checkpoints/step-000050/ holding everything a resume needs.

HF Trainer writes the adapter, optimizer, scheduler, scaler, RNG states and trainer_state.json into
RUN/trainer/checkpoint-N (our temporary folder). thrifty adds its own state (loss accumulators, cost
counters, metrics so far, the resolved config), fsyncs every file, writes manifest.json (sha256 and
size of every file) last, and renames the folder into RUN/checkpoints/. A folder there without a
manifest that verifies is never resumed from.
"""

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from transformers import TrainerCallback

from thrifty.config.schema import CheckpointConfig
from thrifty.io import write_json_atomic

CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"
STATE = "thrifty_state.pt"
CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
PREFIX = "step-"
FORMAT = 1
_CHUNK = 1 << 20  # bytes read at a time when hashing
_SHA256 = re.compile(r"[0-9a-f]{64}")
_FORBIDDEN = re.compile(r"[\\:\x00-\x1f\x7f]")  # backslash, drive/stream colon, control characters


def step_name(step: int) -> str:
    return f"{PREFIX}{step:06d}"


def parse_step(name: str) -> int | None:
    digits = name.removeprefix(PREFIX)
    return int(digits) if name.startswith(PREFIX) and digits.isdigit() else None


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every finished-looking checkpoint folder, newest first (not yet verified)."""
    root = run_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(parse_step(p.name), p) for p in root.iterdir() if p.is_dir()]
    return sorted(((s, p) for s, p in found if s is not None), reverse=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """A rename is durable only once the directory holding it is fsync'd."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path, step: int, extra: dict[str, Any]) -> dict[str, Any]:
    """Hash and fsync every file, then write manifest.json: the checkpoint's proof of completeness."""
    files = {}
    for path in _files(folder):
        _fsync_file(path)
        files[path.relative_to(folder).as_posix()] = {
            "sha256": sha256_file(path),
            "bytes": path.stat().st_size,
        }
    manifest = {"format": FORMAT, "step": step, "created_at": datetime.now(UTC).isoformat(), **extra}
    manifest["files"] = files
    write_json_atomic(folder / MANIFEST, manifest)
    return manifest


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def entry_problem(folder: Path, rel: Any, meta: Any) -> str | None:
    """None when `rel: meta` is an entry write_manifest could have written for a file inside `folder`: a
    relative POSIX path of plain parts (no '', '.', '..', absolute path, backslash, drive or control
    character; not the manifest itself) that resolves inside the folder, with a sha256 and a byte count."""
    if not isinstance(rel, str) or not rel or rel == MANIFEST or _FORBIDDEN.search(rel):
        return "which is not a file name thrifty writes"
    if rel.startswith("/") or any(part in ("", ".", "..") for part in rel.split("/")):
        return "which is not a relative path inside the checkpoint"
    if folder.resolve() not in (folder / rel).resolve().parents:  # a symlink on the way would lead out
        return "which leads outside the checkpoint"
    sha256 = meta.get("sha256") if isinstance(meta, dict) else None
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        return "with no sha256"
    if type(meta.get("bytes")) is not int or meta["bytes"] < 0:
        return "with no byte count"
    return None


def manifest_problem(folder: Path, manifest: Any) -> str | None:
    """None when the manifest has the shape write_manifest gives it and every name stays inside `folder`:
    checked before any listed file is opened, so a manifest from elsewhere cannot point anywhere."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return "manifest.json is unreadable"
    files = manifest["files"]
    for rel, meta in files.items():
        problem = entry_problem(folder, rel, meta)
        if problem:
            return f"manifest.json lists {rel!r}, {problem}"
    parents = {str(parent) for rel in files for parent in PurePosixPath(rel).parents}
    clash = sorted(parents & set(files))
    if clash:
        return f"manifest.json lists {clash[0]!r} both as a file and as a folder"
    return None


def verify(folder: Path) -> str | None:
    """None when every file the manifest lists is present with its size and sha256; else the problem."""
    if not (folder / MANIFEST).is_file():
        return "no manifest.json (the write did not finish)"
    manifest = read_manifest(folder)
    problem = manifest_problem(folder, manifest)
    if problem:
        return problem
    for rel, meta in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            return f"{rel} is missing"
        if path.stat().st_size != meta.get("bytes"):
            return f"{rel} has {path.stat().st_size} bytes, the manifest says {meta.get('bytes')}"
        if sha256_file(path) != meta.get("sha256"):
            return f"{rel} does not match its sha256"
    return None


def replace_folder(tmp: Path, final: Path) -> None:
    """Make `final` hold tmp's complete contents, never a half-written or half-deleted folder: fsync every
    file, move an old copy aside (one rename), rename tmp into place, then delete the old copy."""
    for path in tmp.rglob("*"):
        if path.is_file():
            _fsync_file(path)
    _fsync_dir(tmp)
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)  # left by a run killed during a previous replace
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


def publish(tmp: Path, run_dir: Path, step: int, extra: dict[str, Any]) -> Path:
    """Manifest last, fsync, then one rename makes the checkpoint appear complete or not at all."""
    write_manifest(tmp, step, extra)
    _fsync_dir(tmp)
    root = run_dir / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    if final.exists():  # the same step saved again (a resumed run re-reaching it): the new one wins
        shutil.rmtree(final)
    tmp.rename(final)
    _fsync_dir(root)
    return final


def select_kept(entries: list[tuple[int, float | None]], keep_last: int, keep_best: int) -> set[int]:
    """Steps to keep: the newest `keep_last` plus the `keep_best` lowest eval losses."""
    newest = sorted((step for step, _ in entries), reverse=True)[:keep_last]
    scored = sorted((loss, step) for step, loss in entries if loss is not None)
    return set(newest) | {step for _, step in scored[:keep_best]}


def prune(run_dir: Path, keep_last: int, keep_best: int, protect: set[Path] = frozenset()) -> list[Path]:
    """Delete checkpoints outside the retention policy; unreadable ones are left for a human to look at."""
    entries, folders = [], {}
    for step, folder in list_checkpoints(run_dir):
        manifest = read_manifest(folder)
        if manifest is None:
            continue
        entries.append((step, manifest.get("eval_loss")))
        folders[step] = folder
    kept = select_kept(entries, keep_last, keep_best)
    removed = [folders[s] for s, _ in entries if s not in kept and folders[s] not in protect]
    for folder in removed:
        (folder / MANIFEST).unlink()  # first, so a half-deleted folder never looks complete
        shutil.rmtree(folder)
    return removed


def eval_loss_at(log_history: list[dict[str, Any]], step: int) -> float | None:
    for record in reversed(log_history):
        if record.get("step") == step and "eval_loss" in record:
            return float(record["eval_loss"])
    return None


class CheckpointCallback(TrainerCallback):
    """Decides when to checkpoint, completes HF's checkpoint into an atomic one, and restores thrifty's state.

    `trainer` must be set after the Trainer is built: the loss accumulated since the last log line lives
    on it (`_tr_loss`), and without it the first loss logged after a resume would differ.
    """

    def __init__(
        self,
        run_dir: Path,
        config: CheckpointConfig,
        stop,
        counters: Callable[[], dict[str, Any]],
        resume_state: dict[str, Any] | None = None,
        uploader=None,
    ):
        self.run_dir, self.config, self.stop, self.counters = run_dir, config, stop, counters
        self.resume_state, self.uploader = resume_state, uploader
        self.trainer = None
        self.last_time = time.monotonic()
        self.last_step: int | None = None
        self.last_path: Path | None = None
        self.seconds: list[float] = []  # wall time each checkpoint held training up
        self.train_loss: float | None = None  # set once trainer.train() returned: its mean loss per step
        self.done_step: int | None = None  # step of the newest checkpoint marked "training done"

    def on_train_begin(self, args, state, control, **kwargs):
        self.last_time = time.monotonic()
        saved = self.resume_state
        if saved is None or self.trainer is None:
            return
        self.trainer._tr_loss.copy_(saved["tr_loss"].to(self.trainer._tr_loss.device))
        self.trainer._total_loss_scalar = saved["total_loss_scalar"]
        self.trainer._globalstep_last_logged = saved["globalstep_last_logged"]
        self.trainer._initial_global_step = 0  # train_loss averages over every step, not this segment's
        self.last_step = state.global_step
        self._restore_early_stopping(state)

    def _restore_early_stopping(self, state) -> None:
        """HF restores callback states only together with a TrainerControl that may say "stop": do just this one."""
        from transformers import EarlyStoppingCallback

        saved = state.stateful_callbacks.get("EarlyStoppingCallback")
        saved = saved[0] if isinstance(saved, list) and saved else saved
        for callback in self.trainer.callback_handler.callbacks:
            if isinstance(callback, EarlyStoppingCallback) and isinstance(saved, dict):
                callback.early_stopping_patience_counter = saved["attributes"][
                    "early_stopping_patience_counter"
                ]

    def on_step_end(self, args, state, control, **kwargs):
        from thrifty.distributed.rank import all_max, launched

        cfg, step = self.config, state.global_step
        due = bool(cfg.every_steps and step % cfg.every_steps == 0)
        due |= bool(cfg.every_minutes and time.monotonic() - self.last_time >= cfg.every_minutes * 60)
        # Every rank must checkpoint and stop at the same step: agree on both (a tiny all-reduce).
        if launched():
            any_due, any_stop = all_max([float(due), float(self.stop.reason is not None)])
            due = bool(any_due)
            if any_stop and self.stop.reason is None:
                self.stop.request("a stop request on another process")
        if self.stop.reason:
            due, control.should_training_stop = True, True
        if due and step != self.last_step:
            control.should_save = (
                True  # HF then logs/evaluates this step first, and saves into our temp folder
            )
        return control

    def on_save(self, args, state, control, **kwargs):
        from thrifty.distributed import rank as ranks

        t0 = time.perf_counter()
        tmp = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        done = self._finished(state, control)
        if ranks.is_main():
            self._write_thrifty_state(tmp, done)
        else:  # what is this rank's own: the loss it accumulated since the last log line
            torch_save_rank_state(tmp, self.trainer)
        ranks.barrier()  # every rank's files are in tmp: only now may the manifest say "complete"
        if ranks.is_main():
            self._publish(tmp, state, done)
        # Every rank keeps the same bookkeeping: the stop message and the final phase read it.
        self.last_path = self.run_dir / CHECKPOINTS / step_name(state.global_step)
        if done:
            self.done_step = state.global_step
        self.last_step, self.last_time = state.global_step, time.monotonic()
        ranks.barrier()
        self.seconds.append(time.perf_counter() - t0)
        if ranks.is_main():
            print(f"checkpoint: {self.last_path} ({self.seconds[-1]:.2f} s)", file=sys.stderr)
        return control

    def _publish(self, tmp: Path, state, done: bool) -> None:
        extra = {
            "eval_loss": eval_loss_at(state.log_history, state.global_step),
            "epoch": state.epoch,
            **{k: v for k, v in self.counters().items() if isinstance(v, (int, float, str))},
            **({"train_done": True} if done else {}),
        }
        final = publish(tmp, self.run_dir, state.global_step, extra)
        protect = self.uploader.pending() if self.uploader else set()
        prune(self.run_dir, self.config.keep_last, self.config.keep_best, protect | {final})
        if self.uploader:
            self.uploader.submit(final)

    def _finished(self, state, control) -> bool:
        """Training ends with this step: train() returned, max_steps is reached, or early stopping or the
        time limit (not our stop request) ended it. Resuming from such a checkpoint must not train again."""
        if self.train_loss is not None or state.global_step >= state.max_steps:
            return True
        return bool(control.should_training_stop and not self.stop.reason)

    def _final_train_loss(self, state) -> float:
        """HF's `training_loss`; before train() returned, computed as its _finalize_training will."""
        if self.train_loss is not None:
            return self.train_loss
        trainer = self.trainer
        total = trainer._total_loss_scalar + trainer._tr_loss.item()
        return total / max(state.global_step - trainer._initial_global_step, 0.001)

    def _write_thrifty_state(self, folder: Path, done: bool) -> None:
        import torch

        trainer = self.trainer
        from thrifty.distributed.rank import world_size

        state = {
            "format": FORMAT,
            "world_size": world_size(),  # a resume must start as many processes (data order, shards)
            "tr_loss": trainer._tr_loss.detach().cpu().clone(),
            "total_loss_scalar": float(trainer._total_loss_scalar),
            "globalstep_last_logged": int(trainer._globalstep_last_logged),
            **self.counters(),
        }
        if done:
            state.update(train_done=True, train_loss=self._final_train_loss(trainer.state))
        torch.save(state, folder / STATE)
        for name in (CONFIG, METRICS):
            if (self.run_dir / name).is_file():
                shutil.copyfile(self.run_dir / name, folder / name)


def restore_finished(trainer, folder: Path, train_loss: float):
    """Load the weights and TrainerState of a checkpoint written once training was over, without training.

    `trainer.train(resume_from_checkpoint=...)` would not do: it enters the last epoch before it checks
    max_steps (one step too many when max_steps is not a whole number of epochs), early-stopped or
    time-limited runs would train on, and the loss sums HF left there are already final.
    """
    from transformers.trainer_callback import TrainerState
    from transformers.trainer_utils import TrainOutput

    trainer._load_from_checkpoint(str(folder))  # what train() itself does with a checkpoint
    trainer.state = TrainerState.load_from_json(str(folder / "trainer_state.json"))
    return TrainOutput(trainer.state.global_step, train_loss, {})


def rank_state_name(rank: int) -> str:
    return f"thrifty_state_rank{rank}.pt"


def torch_save_rank_state(folder: Path, trainer) -> None:
    """A rank other than 0 keeps its own loss accumulator (each rank sums its own micro-batches)."""
    import torch

    from thrifty.distributed.rank import rank

    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"tr_loss": trainer._tr_loss.detach().cpu().clone()}, folder / rank_state_name(rank()))


def load_state(folder: Path) -> dict[str, Any]:
    """thrifty's own part of a checkpoint (with this rank's own accumulator in a launched job);
    weights_only=True so loading it cannot run code."""
    import torch

    from thrifty.distributed.rank import rank

    state = torch.load(folder / STATE, map_location="cpu", weights_only=True)
    own = folder / rank_state_name(rank())
    if rank() and own.is_file():
        state.update(torch.load(own, map_location="cpu", weights_only=True))
    return state
