"""One process of a launched job (`thrifty train` started by accelerate/torchrun): train as this rank,
keep ranks other than 0 quiet, and leave an exit record for thrifty's launcher (thrifty.train.launch)."""

import argparse
import os
import sys
from pathlib import Path

from thrifty.config.schema import RunConfig
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR, Preempted, UserError


def run_worker(config: RunConfig, args: argparse.Namespace) -> int:
    from thrifty.distributed.rank import is_main, world_size
    from thrifty.train.launch import EXIT_DIR, write_exit
    from thrifty.train.run import train

    if not is_main() and os.environ.get(EXIT_DIR):
        quiet(Path(os.environ[EXIT_DIR]))
    try:
        if config.distributed.world_size != world_size():
            raise UserError(
                f"this process was launched as one of {world_size()} but distributed.nproc x nnodes is "
                f"{config.distributed.world_size}; pass --nproc (and --nnodes) to match the launcher"
            )
        train(config, progress=not args.no_progress, resume=args.resume, resume_force=args.resume_force)
    except UserError as exc:
        return _exit(EXIT_USER_ERROR, f"error: {exc}", is_main())
    except Preempted as exc:
        return _exit(EXIT_PREEMPTED, f"preempted: {exc}", is_main())
    except BaseException as exc:
        if peer_died(exc):  # not this rank's bug: say what happened, no traceback
            return _exit(
                1,
                "error: another process of the job died, so this one could not go on; the checkpoints "
                "written so far are kept: rerun the same command with --resume auto",
                is_main(),
            )
        write_exit(1, f"error: {type(exc).__name__}: {exc}".splitlines()[0])
        raise
    write_exit(0, None)
    return 0


# What gloo and NCCL say when the other end of a collective went away.
PEER_GONE = ("Connection closed by peer", "Connection reset by peer", "NCCL communicator was aborted")


def peer_died(exc: BaseException) -> bool:
    import torch.distributed as dist

    return isinstance(exc, (RuntimeError, dist.DistError)) and any(text in str(exc) for text in PEER_GONE)


def _exit(code: int, message: str, main: bool) -> int:
    """Print (rank 0, or every rank when not started by thrifty) and record the exit. A stop is an exit 0
    to the launcher when thrifty started it: every rank checkpointed, so there is no failure for torchrun
    to report; thrifty's launcher reads the 75 from the records."""
    from thrifty.train.launch import EXIT_DIR, write_exit

    ours = bool(os.environ.get(EXIT_DIR))
    if main or not ours:
        print(message, file=sys.stderr)
    write_exit(code, message)
    return 0 if ours and code == EXIT_PREEMPTED else code


def quiet(folder: Path) -> None:
    """Ranks other than 0 write their output to a log beside their exit record, not to the terminal."""
    from thrifty.distributed.rank import rank

    log = open(folder / f"rank-{rank()}.log", "a", buffering=1)  # noqa: SIM115 - lives as long as the process
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = sys.stderr = log
