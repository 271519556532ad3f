"""`thrifty launch skypilot`: a SkyPilot task YAML for a managed (spot) job that survives preemption.

SkyPilot's managed jobs relaunch the task on a new machine after a preemption; inside, `thrifty run`
resumes after crashes. Checkpoints go to a bucket mounted at /checkpoints through `checkpoint.remote`
(file:// on the mount), whose manifest-last upload keeps a half-copied checkpoint from being taken even
though bucket mounts have no atomic rename.

What the VM runs is exactly what was asked here:
- thrifty is not on PyPI, so `pip install thrifty` would fail there (or install whatever someone
  uploads under that name). The task syncs this thrifty's source tree as SkyPilot's `workdir` and
  installs it with `pip install . thrifty==VERSION`: pip takes the synced tree as the only candidate and
  stops if its version is not the one that wrote the task (the tree edited between writing and launch).
- The run line is one `shlex.join`: every value is quoted, so spaces, ';', '$(...)', backticks, quotes
  or newlines in a value stay one argument and never run on the VM.
- A --data/--eval-data (or data.path/data.eval_path) file or folder on this machine is uploaded through
  `file_mounts` to a fixed path on the VM (its own name could hold shell or YAML characters) and the run
  reads that copy; a hub dataset id, a `pkg:` file or a URL is passed on as it is.

With `--nodes N` (N > 1) the task asks SkyPilot for N machines (`num_nodes`) and each runs the same
`thrifty run`, told its place in the job by SkyPilot's environment: `--nnodes $SKYPILOT_NUM_NODES
--node-rank $SKYPILOT_NODE_RANK --master-addr <first line of $SKYPILOT_NODE_IPS>` and `--nproc` = the
GPU count of `--gpus NAME:COUNT`. Those few words are fixed text appended after the quoted user values,
so the VM's shell expands the variables and nothing the user typed. A managed job relaunches every node
after a preemption; each resumes (`thrifty run` always trains with `--resume auto`) from the bucket.
"""

import argparse
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import yaml

from thrifty.config.args import flag_arguments, split_config_args
from thrifty.errors import UserError

CONFIG_ON_VM = "/thrifty/config.yaml"
MOUNT = "/checkpoints"
RUN_ON_VM = "/thrifty/run"  # local disk on the VM; the mount is only the remote copy
DATA_ON_VM = "/thrifty/data"  # local data files are uploaded here
FLAG_OF = {"data.path": "data", "data.eval_path": "eval_data"}
NAME_ON_VM = {"data.path": "train", "data.eval_path": "eval"}
HEADER = "# SkyPilot managed job written by `thrifty launch skypilot`. Launch: sky jobs launch THIS_FILE\n"
# SkyPilot sets these on every node of a task (docs.skypilot.co, running-jobs/distributed-jobs). The
# master address is the head's IP: the first line of the newline-separated $SKYPILOT_NODE_IPS.
NODE_FLAGS = (
    '--nnodes "$SKYPILOT_NUM_NODES" --node-rank "$SKYPILOT_NODE_RANK" '
    '--master-addr "$(printf \'%s\\n\' "$SKYPILOT_NODE_IPS" | head -n 1)"'
)
CLUSTER_DECIDES = ("nnodes", "node_rank", "master_addr")  # a user's value would contradict the cluster


def task_name(config_path: str | None) -> str:
    stem = Path(config_path).stem if config_path else "run"
    return "thrifty-" + re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")


def skypilot_task(args: argparse.Namespace) -> dict[str, Any]:
    config_path, overrides = split_config_args(args.args)
    nodes = node_count(args)
    if not args.bucket:
        # The bucket is what checkpoint.remote points at on the VM (see below): without it a relaunched
        # node, or every node of a multi-node job, would start over.
        raise UserError(
            "--bucket is needed: checkpoints must outlive the spot machine (e.g. s3://my-bucket/thrifty; "
            "the task sets checkpoint.remote to it)"
        )
    name = task_name(config_path)
    mounted = local_data(args)
    # A mounted file's flag is dropped: on the VM a flag would win over the override that points at the copy.
    skip = ("output", *(FLAG_OF[field] for field, _, _ in mounted))
    skip += (*CLUSTER_DECIDES, "nproc") if nodes > 1 else ()
    command = (
        ["thrifty", "run"] + ([CONFIG_ON_VM] if config_path else []) + overrides + flag_arguments(args, skip)
    )
    command += [
        f"output.dir={RUN_ON_VM}",
        f"checkpoint.remote=file://{MOUNT}/{name}",
        "--restarts",
        str(args.restarts),
        "--no-progress",
    ]
    resources: dict[str, Any] = {"accelerators": args.accelerators, "use_spot": bool(args.spot)}
    if args.spot:
        # Relaunch elsewhere on preemption; user-code failures are retried a few times too.
        resources["job_recovery"] = {"strategy": "EAGER_NEXT_REGION", "max_restarts_on_errors": 3}
    file_mounts: dict[str, Any] = {MOUNT: {"source": args.bucket, "mode": "MOUNT"}}
    if config_path:
        file_mounts[CONFIG_ON_VM] = str(Path(config_path).resolve())
    for field, on_vm, local in mounted:
        file_mounts[on_vm] = local
        command.append(f"{field}={on_vm}")  # the last override wins over the flag and the config file
    if nodes > 1:
        command += ["--nproc", args.nproc or str(gpus_per_node(args.accelerators))]
    import thrifty.version  # binds the package `thrifty` for its __file__, not its API (see thrifty/version.py)

    task: dict[str, Any] = {"name": name, "resources": resources}
    if nodes > 1:
        task["num_nodes"] = nodes
    return {
        **task,
        "workdir": str(source_tree()),
        "file_mounts": file_mounts,
        # The VM installs the thrifty that wrote the task (see the module docstring), from the workdir.
        "setup": shlex.join(["pip", "install", ".", f"thrifty=={thrifty.__version__}"]),
        "run": shlex.join(command) + (" " + NODE_FLAGS if nodes > 1 else ""),
    }


def node_count(args: argparse.Namespace) -> int:
    nodes = getattr(args, "nodes", 1)
    if nodes < 1:
        raise UserError(f"--nodes must be 1 or more, not {nodes}")
    return nodes


def gpus_per_node(accelerators: str) -> int:
    """The COUNT of `NAME:COUNT` (1 without one): one training process per GPU on each node."""
    _, colon, count = accelerators.rpartition(":")
    if not colon:
        return 1
    if not re.fullmatch(r"[0-9]+", count) or int(count) < 1:
        raise UserError(
            f"--gpus {accelerators}: a multi-node job runs one process per GPU, so the count after ':' "
            "must be a whole number of GPUs (e.g. A10G:1, A100:8)"
        )
    return int(count)


def source_tree() -> Path:
    """The project folder this thrifty was installed from (`pip install -e`), synced to the VM."""
    import thrifty.version  # binds the package `thrifty` for its __file__, not its API (see thrifty/version.py)

    package = Path(thrifty.__file__).resolve().parent
    for folder in package.parents[:2]:  # src/thrifty -> src -> project root, or thrifty -> project root
        try:
            project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        except (OSError, ValueError, KeyError):
            continue
        if project.get("name") == "thrifty":
            return folder
    raise UserError(
        f"launch skypilot syncs thrifty's source tree to the VM (thrifty is not on PyPI), but the thrifty at "
        f"{package} was not installed from one; run it from a checkout installed with `pip install -e .`"
    )


def local_data(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(config field, fixed path on the VM, local path) for each data file or folder on this machine the
    run reads; hub dataset ids, pkg: files and remote URLs are left as they are."""
    from thrifty.config.args import config_from_args

    data = config_from_args(args).data
    out = []
    for field, value in (("data.path", data.path), ("data.eval_path", data.eval_path)):
        if value and "://" not in value and Path(value).expanduser().exists():
            local = Path(value).expanduser().resolve()
            # The reader goes by the suffix (.jsonl, .csv...); a folder (save_to_disk) has none.
            suffix = local.suffix.lower() if local.is_file() else ""
            suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""
            out.append((field, f"{DATA_ON_VM}/{NAME_ON_VM[field]}{suffix}", str(local)))
    return out


def write_task(args: argparse.Namespace, path: str) -> Path:
    out = Path(path)
    out.write_text(HEADER + yaml.safe_dump(skypilot_task(args), sort_keys=False), encoding="utf-8")
    return out
