"""Who this process is in a launched job, read from what torchrun sets, and the few collectives thrifty's
bookkeeping needs (stop agreement, peak memory, barriers). Every function is a no-op in one process, so
the single-device path runs the same code."""

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def launched() -> bool:
    """True inside a process started by torchrun/accelerate with more than one process in the job."""
    return world_size() > 1


def is_main() -> bool:
    return rank() == 0


def _group_ready() -> bool:
    import torch.distributed as dist

    return launched() and dist.is_available() and dist.is_initialized()


def _device():
    """Where a collective's tensor must live: NCCL only moves CUDA tensors."""
    import torch
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    if _group_ready():
        import torch.distributed as dist

        dist.barrier()


def all_max(values: list[float]) -> list[float]:
    """Element-wise maximum over ranks (the values themselves in one process)."""
    return _reduce(values, "max")


def all_sum(values: list[float]) -> list[float]:
    return _reduce(values, "sum")


def _reduce(values: list[float], op: str) -> list[float]:
    if not _group_ready():
        return list(values)
    import torch
    import torch.distributed as dist

    # float64 holds byte counts up to 2**53 exactly: far past any device's memory.
    tensor = torch.tensor(values, dtype=torch.float64, device=_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM)
    return tensor.tolist()


def init(backend: str) -> None:
    """Join the job's process group (torchrun's env:// rendezvous) before anything needs a collective:
    the run folder is opened by rank 0 while the others wait, and resume is decided by rank 0 first.
    accelerate and the Trainer find the group already there and use it."""
    if not launched():
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend)
