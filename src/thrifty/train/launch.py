"""`thrifty train --nproc N [--nnodes M ...]`: start the job through accelerate's launcher (torchrun
underneath) and stand between it and the user's signals.

This process checks everything it can first (config, paths, strategy, the run folder) so that bad
input is one line before any worker starts, writes the resolved config for the workers, and runs
`accelerate launch -m thrifty train RESOLVED.yaml` with SIGTERM/SIGINT ignored in the launcher: a stop
reaches every worker once, as SIGUSR1 from here (or as the signal itself when a machine shuts down),
so they agree on one step, write one checkpoint and exit 75 together, instead of being killed by the
launcher after its 30 s shutdown timeout. Each worker leaves its exit code and one-line message in
THRIFTY_EXIT_DIR; this process turns them into one exit code and prints what rank 0 did not say.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from thrifty.config.load import write_resolved
from thrifty.config.schema import RunConfig
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR, UserError
from thrifty.io import write_json_atomic

EXIT_DIR = "THRIFTY_EXIT_DIR"
STOP_SIGNAL = signal.SIGUSR1  # what this process sends workers: a stop request that is never "again"
RANK_DIED = 1  # a worker that left no exit record (killed, crashed in C): the job failed


def launch(config: RunConfig, resume: str | None, resume_force: bool, progress: bool) -> tuple[int, Path]:
    """Run the job; returns (exit code, run folder)."""
    from thrifty.train.folder import check_run_dir, default_run_dir
    from thrifty.train.resume import resume_run_dir

    run_dir = resume_run_dir(config.output.dir, resume) or default_run_dir(config)
    check_run_dir(run_dir, config)
    config = config.model_copy(update={"output": config.output.model_copy(update={"dir": str(run_dir)})})
    work = Path(tempfile.mkdtemp(prefix="thrifty-launch-"))
    try:
        resolved = work / "config.yaml"
        write_resolved(config, resolved)
        worker_args = ["train", str(resolved)]
        worker_args += ["--resume", resume] if resume else []
        worker_args += ["--resume-force"] if resume_force else []
        worker_args += [] if progress else ["--no-progress"]
        d = config.distributed
        print(
            f"launching {d.world_size} processes ({d.nproc} on this machine, node {d.node_rank} of "
            f"{d.nnodes}) through accelerate; global batch {config.global_batch} = micro-batch "
            f"{config.train.micro_batch_size} x accumulation {config.train.gradient_accumulation_steps} x "
            f"{d.world_size} processes; run folder {run_dir}",
            file=sys.stderr,
        )
        if d.nnodes > 1:
            print(
                "note: each machine keeps its own ranks' checkpoint files; for exact resume put --output on "
                "a filesystem every machine shares (checkpoint.remote holds what the head machine wrote)",
                file=sys.stderr,
            )
        code = _run(accelerate_argv(config, worker_args), work, d.nproc)
        if code not in (0, EXIT_PREEMPTED):
            keep_rank_logs(work, run_dir)
        return code, run_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)


def launch_run(config: RunConfig, resume: str | None, resume_force: bool, progress: bool):
    """`train()` for a config with world size > 1, called in a process that was not launched: the job
    runs through `launch`; returns (run folder, summary), or raises `Preempted` for a stop, `UserError`
    for anything else."""
    from thrifty.errors import Preempted
    from thrifty.train.folder import finished_summary

    check_launchable(config)
    code, run_dir = launch(config, resume, resume_force, progress)
    if code == EXIT_PREEMPTED:
        raise Preempted(f"the {config.distributed.world_size}-process job stopped; rerun with --resume auto")
    summary = finished_summary(run_dir) if code == 0 else None
    if summary is None:
        raise UserError(f"the {config.distributed.world_size}-process job in {run_dir} failed (exit {code})")
    return run_dir, summary


def keep_rank_logs(work: Path, run_dir: Path) -> None:
    """A failed job's quiet ranks wrote their output to logs: keep them in the run folder and say where."""
    logs = sorted(work.glob("rank-*.log"))
    if not logs or not run_dir.is_dir():
        return
    folder = run_dir / "logs"
    folder.mkdir(exist_ok=True)
    for log in logs:
        shutil.copyfile(log, folder / log.name)
    print(f"the other processes' output: {folder}/", file=sys.stderr)


def accelerate_argv(config: RunConfig, worker_args: list[str]) -> list[str]:
    """accelerate's multi-process launcher (torchrun underneath) for every strategy: FSDP and DeepSpeed
    settings reach the Trainer through its arguments (thrifty.distributed.strategy), not launcher flags."""
    d = config.distributed
    threads = max(1, (os.cpu_count() or 1) // d.nproc)
    return [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--quiet",  # no launcher traceback on a failed worker: the workers and this process say what failed
        "--multi_gpu",
        "--num_processes",
        str(d.world_size),
        "--num_machines",
        str(d.nnodes),
        "--machine_rank",
        str(d.node_rank),
        "--main_process_ip",
        d.master_addr,
        "--main_process_port",
        str(d.master_port),
        "--mixed_precision",
        "no",  # the Trainer sets precision from train.precision
        "--dynamo_backend",
        "no",
        "--num_cpu_threads_per_process",
        str(threads),
        "-m",
        "thrifty",
        *worker_args,
    ]


def _run(argv: list[str], work: Path, local_workers: int) -> int:
    env = {
        **os.environ,
        EXIT_DIR: str(work),
        # The launcher's own handlers would forward a stop and SIGKILL the workers 30 s later.
        "TORCHELASTIC_SIGNALS_TO_HANDLE": "SIGHUP,SIGQUIT",
    }
    # The job's stdout goes to stderr: this process's stdout carries only what it prints (--json).
    process = subprocess.Popen(argv, env=env, stdout=_stderr_fd(), preexec_fn=_ignore_stop_signals)
    stopped: list[str] = []

    def forward(signum, frame):
        if not stopped:
            print(
                f"\n{signal.Signals(signum).name}: asking every process to checkpoint and stop",
                file=sys.stderr,
            )
        stopped.append(signal.Signals(signum).name)
        _signal_workers(process.pid)

    old = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        launcher_code = process.wait()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    return combine(read_exits(work), launcher_code, local_workers)


def _stderr_fd() -> int:
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a captured stream (tests, notebooks): the process's own
        return 2


def _ignore_stop_signals() -> None:
    """In the launcher (and inherited by the workers, which install their own handlers)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _signal_workers(launcher_pid: int) -> None:
    import psutil

    try:
        children = psutil.Process(launcher_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for child in children:
        try:
            child.send_signal(STOP_SIGNAL)
        except psutil.NoSuchProcess:
            continue


def write_exit(code: int, message: str | None) -> None:
    """Called by a worker as it exits (no-op outside a job this module launched)."""
    folder = os.environ.get(EXIT_DIR)
    if not folder:
        return
    from thrifty.distributed.rank import rank

    write_json_atomic(
        Path(folder) / f"rank-{rank()}.json", {"rank": rank(), "code": code, "message": message}
    )


def read_exits(work: Path) -> dict[int, dict[str, Any]]:
    exits = {}
    for path in work.glob("rank-*.json"):
        record = json.loads(path.read_text())
        exits[record["rank"]] = record
    return exits


def combine(exits: dict[int, dict[str, Any]], launcher_code: int, local_workers: int) -> int:
    """One exit code for this machine's part of the job: a user error wins (it says what to fix), then a
    crash, then a process that died without a record, then a stop (every worker checkpointed: 75)."""
    codes = [record["code"] for record in exits.values()]
    shown = exits.get(0, {}).get("message")
    for rank, record in sorted(exits.items()):  # rank 0 printed its own; say what the others saw
        if rank != 0 and record["message"] and record["message"] != shown:
            print(f"rank {rank}: {record['message']}", file=sys.stderr)
    if EXIT_USER_ERROR in codes:
        return EXIT_USER_ERROR
    crashed = [code for code in codes if code not in (0, EXIT_PREEMPTED)]
    if crashed:
        return crashed[0]
    if len(codes) < local_workers and (launcher_code or not codes):
        print(
            f"error: {local_workers - len(codes)} of {local_workers} processes died without finishing "
            f"(launcher exit {launcher_code}); checkpoints already written are kept: rerun with --resume auto",
            file=sys.stderr,
        )
        return RANK_DIED
    return EXIT_PREEMPTED if EXIT_PREEMPTED in codes else 0


def check_launchable(config: RunConfig) -> str:
    """Refuse a bad combination before launching; returns the strategy the workers will use."""
    from thrifty.distributed.strategy import check, resolve
    from thrifty.hardware import device_name

    device = device_name()
    strategy = resolve(config)
    check(config, strategy, device, _visible_gpus())
    if not shutil.which(sys.executable):
        raise UserError(f"cannot find this Python ({sys.executable}) to start the workers with")
    return strategy


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0
