"""`thrifty launch skypilot`: a SkyPilot task YAML for a managed (spot) job that survives preemption.

SkyPilot's managed jobs relaunch the task on a new machine after a preemption; inside, `thrifty run`
resumes after crashes. Checkpoints go to a bucket mounted at /checkpoints through `checkpoint.remote`
(file:// on the mount), whose manifest-last upload keeps a half-copied checkpoint from being taken even
though bucket mounts have no atomic rename.
"""

import argparse
import re
import shlex
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
HEADER = "# SkyPilot managed job written by `thrifty launch skypilot`. Launch: sky jobs launch THIS_FILE\n"


def task_name(config_path: str | None) -> str:
    stem = Path(config_path).stem if config_path else "run"
    return "thrifty-" + re.sub(r"[^a-z0-9-]+", "-", stem.lower()).strip("-")


def skypilot_task(args: argparse.Namespace) -> dict[str, Any]:
    config_path, overrides = split_config_args(args.args)
    if not args.bucket:
        raise UserError(
            "--bucket is needed: checkpoints must outlive the spot machine (e.g. s3://my-bucket/thrifty)"
        )
    name = task_name(config_path)
    mounted = local_data(args)
    # A mounted file's flag is dropped: on the VM a flag would win over the override that points at the copy.
    skip = ("output", *(FLAG_OF[field] for field, _, _ in mounted))
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
    import thrifty

    return {
        "name": name,
        "resources": resources,
        "file_mounts": file_mounts,
        # The VM runs the thrifty that wrote the task, so its config fields and flags mean the same.
        "setup": shlex.join(["pip", "install", f"thrifty=={thrifty.__version__}"]),
        # One shell line: every value quoted, so spaces, ';', '$(...)' or backticks stay data.
        "run": shlex.join(command),
    }


def local_data(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """(config field, path on the VM, local path) for each data file on this machine the run reads;
    hub dataset ids, pkg: files and remote URLs are left as they are."""
    from thrifty.config.args import config_from_args

    data = config_from_args(args).data
    out = []
    for field, value in (("data.path", data.path), ("data.eval_path", data.eval_path)):
        if value and "://" not in value and Path(value).expanduser().exists():
            local = Path(value).expanduser().resolve()
            out.append((field, f"{DATA_ON_VM}/{field.split('.')[1]}/{local.name}", str(local)))
    return out


def write_task(args: argparse.Namespace, path: str) -> Path:
    out = Path(path)
    out.write_text(HEADER + yaml.safe_dump(skypilot_task(args), sort_keys=False), encoding="utf-8")
    return out
