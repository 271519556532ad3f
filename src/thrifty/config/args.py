"""The training flags shared by every verb that starts a run (train, run, launch, compare), below the CLI
so that the CLI and the supervisors that rebuild a `thrifty train` command line both read them from here."""

import argparse

from thrifty.errors import UserError

# --flag -> config field, for the settings people change most.
TRAIN_FLAGS = {
    "model": ("model.name", "Base model: bundled name, local folder or hub id."),
    "data": ("data.path", "Training data file (.jsonl/.json/.csv/.parquet or a saved datasets folder)."),
    "eval_data": ("data.eval_path", "Held-out data; default: a seeded split of --data."),
    "output": ("output.dir", "Run directory (default runs/<model>-<method>-<time>)."),
    "method": ("method.name", "Fine-tuning method (see `thrifty methods`)."),
    "objective": (
        "train.objective",
        "What to optimise: sft (supervised), dpo, orpo, kto, simpo (preference), reward (a reward model), "
        "grpo (online, needs --reward).",
    ),
    "reward": (
        "train.reward",
        "grpo: reward model folder, module:function, or exact/contains/f1/json/length.",
    ),
    "max_steps": ("train.max_steps", "Optimizer steps to run (overrides --epochs)."),
    "epochs": ("train.epochs", "Passes over the training data."),
    "seed": ("train.seed", "Random seed for init, data order and the split."),
    "nproc": (
        "distributed.nproc",
        "Processes on this machine, one per device (DDP/FSDP/ZeRO through accelerate).",
    ),
    "nnodes": ("distributed.nnodes", "Machines in the job (each runs the same command)."),
    "node_rank": ("distributed.node_rank", "This machine's index in the job, 0 = the head."),
    "master_addr": ("distributed.master_addr", "Address of the head machine."),
    "master_port": ("distributed.master_port", "Free TCP port on the head machine."),
}


def split_config_args(items: list[str]) -> tuple[str | None, list[str]]:
    """`thrifty train [CONFIG.yaml] [key=value ...]`: the config file is the one argument without '='."""
    files = [item for item in items if "=" not in item]
    if len(files) > 1:
        raise UserError(f"expected one config file, got {', '.join(files)}; overrides look like key=value")
    return (files[0] if files else None), [item for item in items if "=" in item]


def flag_arguments(args: argparse.Namespace, skip: tuple[str, ...] = ("output",)) -> list[str]:
    """The TRAIN_FLAGS the user gave, as command-line arguments again (for a rerun of `thrifty train`)."""
    out: list[str] = []
    for flag in TRAIN_FLAGS:
        value = getattr(args, flag)
        if value is not None and flag not in skip:
            out += ["--" + flag.replace("_", "-"), str(value)]
    return out


def config_from_args(args: argparse.Namespace):
    """The validated run config from `[CONFIG.yaml] [key=value ...]`, the train flags and --overwrite."""
    from thrifty.config.load import load_config

    config_path, overrides = split_config_args(args.args)
    for flag, (field, _) in TRAIN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{field}={value}")
    if getattr(args, "overwrite", False):
        overrides.append("output.overwrite=true")
    return load_config(config_path, overrides)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """`[CONFIG.yaml] [key=value ...]`, the TRAIN_FLAGS and --no-progress; the parser takes overrides
    that follow other flags too (`--max-steps 3 train.seed=1`, see thrifty.cli.main)."""
    parser.add_argument(
        "args",
        nargs="*",
        metavar="[CONFIG.yaml] [key=value ...]",
        help="Optional YAML run config, then overrides such as train.learning_rate=1e-4.",
    )
    for flag, (field, text) in TRAIN_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, help=f"{text} (= {field})")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar (for logs).")
    parser.set_defaults(takes_overrides=True)
