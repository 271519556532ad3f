"""Pick the checkpoint to resume from and refuse configs that would not continue the same run."""

import sys
from pathlib import Path
from typing import Any

import yaml

from thrifty.errors import UserError
from thrifty.train.checkpoint import CHECKPOINTS, CONFIG, list_checkpoints, parse_step, verify

# Fields that may differ between the checkpoint and the resumed run: they change how long the run goes,
# what it prints and where it writes, not what one step computes. (Changing max_steps or epochs also
# stretches the learning-rate schedule from the resumed step on, which is what extending a run means.)
SAFE_PREFIXES = (
    "output.",
    "checkpoint.",
    "train.max_steps",
    "train.max_minutes",
    "train.epochs",
    "train.logging_steps",
    "train.eval_every_steps",
    "train.early_stopping_patience",
    "train.report_to",  # where the metrics also go, not what they are
    # Where the job's processes meet, not what they compute: a restarted spot job gets a new head address.
    "distributed.master_addr",
    "distributed.master_port",
    "distributed.node_rank",
    "distributed.backend",
)
# Fields that make the checkpoint unusable: its tensors belong to another model or adapter layout.
NEVER_FORCE = (
    "model.name",
    "method.name",
    "method.rank",
    "method.target_modules",
    "method.use_dora",
    # The checkpoint's optimizer and model state are laid out (and the data dealt out) for this job shape.
    "distributed.nproc",
    "distributed.nnodes",
    "distributed.strategy",
)


def find_checkpoint(run_dir: Path, spec: str, remote=None) -> Path | None:
    """`auto`: the newest checkpoint that verifies, local or remote (None: nothing to resume, start fresh).

    Anything else is a checkpoint folder (or a run folder, meaning its newest checkpoint).
    """
    if spec != "auto":
        return _explicit(Path(spec))
    local = {step: path for step, path in list_checkpoints(run_dir)}
    remote_steps = set(remote.steps()) if remote else set()
    for step in sorted(set(local) | remote_steps, reverse=True):
        problem = None
        if step in local:
            problem = verify(local[step])
            if problem is None:
                return local[step]
            print(f"warning: skipping checkpoint {local[step]}: {problem}", file=sys.stderr)
        if step in remote_steps:
            found = _download(remote, step, run_dir, local.get(step))
            if found is not None:
                return found
    return None


def _download(remote, step: int, run_dir: Path, broken: Path | None) -> Path | None:
    if broken is not None:  # keep the corrupt local copy for inspection, out of the way
        broken.rename(broken.with_name(broken.name + ".corrupt"))
    try:
        path = remote.download(step, run_dir)
    except UserError:  # a manifest thrifty did not write: someone else wrote there, so stop and say so
        raise
    except Exception as exc:  # a damaged or unreachable copy is skipped like a bad local one
        print(f"warning: skipping remote checkpoint step {step}: {exc}", file=sys.stderr)
        return None
    print(f"downloaded checkpoint step {step} from {remote.url}", file=sys.stderr)
    return path


def _explicit(path: Path) -> Path:
    if not path.exists():
        raise UserError(
            f"resume checkpoint {path} does not exist; pass a RUN/checkpoints/step-N folder or auto"
        )
    if parse_step(path.name) is None:
        steps = list_checkpoints(path)
        if not steps:
            raise UserError(f"{path} holds no checkpoints (expected {CHECKPOINTS}/step-N folders)")
        path = steps[0][1]
    problem = verify(path)
    if problem:
        raise UserError(f"checkpoint {path} is damaged: {problem}; pick another one or use --resume auto")
    return path


def run_dir_of(checkpoint: Path) -> Path:
    """RUN/checkpoints/step-N -> RUN."""
    return checkpoint.resolve().parent.parent


def saved_config(checkpoint: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load((checkpoint / CONFIG).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise UserError(
            f"checkpoint {checkpoint} has no readable {CONFIG}; it was not written by thrifty"
        ) from None
    return data if isinstance(data, dict) else {}


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Dotted names of the fields whose values differ and change results."""
    old, new = _with_defaults(_flatten(saved)), _with_defaults(_flatten(current))
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return [k for k in changed if not k.startswith(SAFE_PREFIXES)]


def _with_defaults(flat: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint written before a field existed ran with that field's default (both sides are filled,
    so a partial dict compares as the config it stands for)."""
    from thrifty.config.schema import RunConfig

    return {**_flatten(RunConfig().model_dump(mode="json")), **flat}


def check_compatible(saved: dict[str, Any], current: dict[str, Any], force: bool) -> None:
    """Refuse a resume that would silently train a different run; --resume-force accepts all but NEVER_FORCE."""
    differing = config_differences(saved, current)
    old, new = _with_defaults(_flatten(saved)), _with_defaults(_flatten(current))
    fatal = [k for k in differing if k in NEVER_FORCE]
    if fatal:
        shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in fatal)
        raise UserError(
            f"the checkpoint belongs to another run ({shown}); start a new run in another --output"
        )
    if differing and not force:
        shown = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in differing)
        raise UserError(
            f"config differs from the checkpoint in fields that change results: {shown}; "
            "undo them or pass --resume-force"
        )
    if differing:
        print(f"warning: resuming with changed fields: {', '.join(differing)}", file=sys.stderr)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def resume_run_dir(output_dir: str | None, spec: str | None) -> Path | None:
    """Where a resumed run lives: --output, else the run folder of an explicit checkpoint."""
    if output_dir:
        return Path(output_dir)
    if spec == "auto":
        raise UserError("--resume auto needs --output (output.dir): the run folder to continue")
    if spec:
        return run_dir_of(_explicit(Path(spec)))
    return None


class ResumePlan:
    """What the run continues from: a verified checkpoint and thrifty's state in it, or nothing."""

    def __init__(self, checkpoint: Path | None = None, state: dict[str, Any] | None = None, remote=None):
        self.checkpoint, self.state, self.remote = checkpoint, state, remote

    @property
    def step(self) -> int:
        return parse_step(self.checkpoint.name) if self.checkpoint else 0

    @property
    def finished(self) -> bool:
        """The checkpoint was written once training was over: the run only evaluates and saves."""
        return bool(self.state and self.state.get("train_done"))


# Fields that set how long training runs; a run whose training finished does not train further.
LENGTH_FIELDS = ("train.max_steps", "train.epochs")


def warn_if_lengthened(saved: dict[str, Any], current: dict[str, Any], step: int) -> None:
    """Say so when a resume of a finished training asks for more of it (it is not applied)."""
    old, new = _flatten(saved), _flatten(current)
    changed = [k for k in LENGTH_FIELDS if old.get(k) != new.get(k)]
    if changed:
        print(
            f"warning: training had finished at step {step}; the changed {', '.join(changed)} is "
            "ignored: only the final evaluation and save are left",
            file=sys.stderr,
        )


def plan_resume(config, run_dir: Path, spec: str | None, force: bool) -> ResumePlan:
    """Check the remote, find the checkpoint, check the config against it. Deletes nothing."""
    from thrifty.train.checkpoint import load_state
    from thrifty.train.remote import Remote

    if spec is not None and config.output.overwrite:
        raise UserError(
            "--overwrite deletes the checkpoints --resume would continue from; pass only one of them"
        )
    remote = None
    if config.checkpoint.remote:
        remote = Remote(config.checkpoint.remote, config.checkpoint.remote_options)
        remote.check()
    if spec is None:
        from thrifty.distributed.rank import launched

        # In a launched job the launcher already checked, and rank 0 may be writing one right now.
        if list_checkpoints(run_dir) and not config.output.overwrite and not launched():
            raise UserError(
                f"{run_dir} holds checkpoints of an unfinished run; pass --resume auto to continue "
                "it or --overwrite to start over"
            )
        return ResumePlan(remote=remote)
    checkpoint = find_checkpoint(run_dir, spec, remote)
    if checkpoint is None:
        print(f"no checkpoint in {run_dir}: starting from step 0", file=sys.stderr)
        return ResumePlan(remote=remote)
    saved, current = saved_config(checkpoint), config.model_dump(mode="json")
    state = load_state(checkpoint)
    check_world_size(state, config.distributed.world_size, checkpoint)  # first: it says which flag fixes it
    check_compatible(saved, current, force)
    plan = ResumePlan(checkpoint, state, remote)
    if not plan.finished:
        print(f"resuming from {checkpoint}", file=sys.stderr)
        return plan
    warn_if_lengthened(saved, current, plan.step)
    print(f"resuming from {checkpoint}: training had finished; evaluating and saving", file=sys.stderr)
    return plan


def check_world_size(state: dict[str, Any], world: int, checkpoint: Path) -> None:
    """Exact resume replays the same data order and per-rank states: only with the same process count."""
    saved = int(state.get("world_size", 1))
    if saved != world:
        raise UserError(
            f"checkpoint {checkpoint} was written by {saved} process(es), this run has {world}; resume "
            f"with --nproc {saved} (x nodes) or start a new run in another --output"
        )
