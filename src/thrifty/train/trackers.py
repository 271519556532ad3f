"""Experiment trackers (`train.report_to`): the HF Trainer's own integrations log every step's metrics;
thrifty points them at the run folder, keeps their run ids for a resume, and adds the run's summary
(plan beside measurement, eval loss before/after) at the end.

Only rank 0 reports: the integrations check `state.is_world_process_zero`, and so does `report_summary`.
Where each writes, unless the user's own environment says otherwise:
- tensorboard: RUN/tensorboard/ (TENSORBOARD_LOGGING_DIR); a resume appends event files to it.
- mlflow: a SQLite store RUN/mlflow.db (MLFLOW_TRACKING_URI; MLflow 3 refuses a plain ./mlruns file
  store), experiment "thrifty"; a resume reopens the same run (MLFLOW_RUN_ID from RUN/trackers.json).
- wandb: RUN/wandb/ (WANDB_DIR), project "thrifty"; WANDB_MODE=offline needs no account; a resume
  continues the same run id (RUN/trackers.json), passed to wandb.init by thrifty (start_wandb).
- trackio: its own local store (TRACKIO_DIR, default HF_HOME/trackio), project "thrifty"; a resume
  reopens the run by its name (RUN/trackers.json).
Every tracker names the run `FOLDER-YYYYmmdd-HHMMSS-xxxx` (tracker_run_name): trackio's store is shared by all
runs on the machine and reopens a run by name, so two runs in folders both called `run` (or a folder
trained again after deleting it) would otherwise write into one curve.
"""

import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from thrifty.errors import UserError
from thrifty.io import write_json_atomic

# Each tracker's importable package (what `pip install 'thrifty[track]'` brings).
PACKAGES = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb", "trackio": "trackio"}
IDS = "trackers.json"  # the tracker run ids a resume continues
PROJECT = "thrifty"  # wandb/trackio project and MLflow experiment, unless the environment names one


def check_trackers(names: list[str]) -> None:
    """Every tracker asked for is installed: checked before the model loads (thrifty.train.preflight)."""
    for name in names:
        if find_spec(PACKAGES[name]) is None:
            raise UserError(
                f"train.report_to={name} needs the {PACKAGES[name]} package: pip install 'thrifty[track]' "
                f"(or pip install {PACKAGES[name]}), or drop {name} from train.report_to"
            )


def default_environment(names: list[str], run_dir: Path) -> dict[str, str]:
    """The integrations' settings that point them into this run, for the variables the user left unset."""
    ids = saved_ids(run_dir)
    env: dict[str, str] = {}
    if "tensorboard" in names:
        env["TENSORBOARD_LOGGING_DIR"] = str(run_dir / "tensorboard")
    if "mlflow" in names:
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
        env["MLFLOW_EXPERIMENT_NAME"] = PROJECT
        if "mlflow" in ids:
            env["MLFLOW_RUN_ID"] = ids["mlflow"]
    return {key: value for key, value in env.items() if key not in os.environ}


def tracker_run_name(run_dir: Path) -> str:
    """The name this run has in every tracker: the one a first start saved, or the folder's name and the
    start time (local, to the second) and 4 random hex digits (two runs started in one second)."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
    return saved_ids(run_dir).get("name") or f"{run_dir.name}-{stamp}"


def remember_run_name(run_dir: Path) -> str:
    """Save the run's tracker name in RUN/trackers.json on its first start, so its trainer and a resume
    use the same one."""
    ids = saved_ids(run_dir)
    if "name" not in ids:
        ids["name"] = tracker_run_name(run_dir)
        write_json_atomic(run_dir / IDS, ids)
    return ids["name"]


def start_wandb(run_dir: Path, name: str) -> None:
    """Start this run's W&B run with explicit arguments; the integration adopts an active run. wandb
    reads its environment once per process (at its first init), so a second run in one process (the
    Python API, a sweep's trials) given WANDB_DIR/WANDB_RUN_ID would write into the first one's folder
    under a new id. The user's WANDB_DIR, WANDB_PROJECT and WANDB_RUN_ID still win."""
    import wandb

    if wandb.run is not None:  # the caller's own run: the integration logs into it
        return
    run_id = os.environ.get("WANDB_RUN_ID") or saved_ids(run_dir).get("wandb")
    wandb.init(
        project=os.environ.get("WANDB_PROJECT", PROJECT),
        name=name,
        dir=os.environ.get("WANDB_DIR", str(run_dir.resolve())),
        id=run_id,
        resume="allow" if run_id else None,  # a resume continues the run RUN/trackers.json names
    )


@contextmanager
def tracking(names: list[str], run_dir: Path) -> Iterator[None]:
    """The run's tracker settings in the environment while it trains, restored afterwards (the Python API
    may train several runs in one process). The integrations read them when the Trainer is built and
    when training begins, so this wraps both."""
    from thrifty.distributed.rank import is_main

    added = default_environment(names, run_dir) if names else {}
    # A tracker run the caller started is theirs to end; one the integration started (left open by a stop,
    # or by wandb, which never finishes its run) is ended here, so the next run in this process gets its own.
    preexisting = active_runs()
    os.environ.update(added)
    stopped = True  # until the body returns: a stop (Preempted) or an error leaves the runs open
    try:
        if names and is_main():
            name = remember_run_name(run_dir)  # before the Trainer's arguments read it
            if "wandb" in names:
                start_wandb(run_dir, name)
        yield
        stopped = False
    finally:
        if names:  # while the run's settings still say where its store is
            end_runs(set(active_runs()) - set(preexisting), stopped)
        for key in added:
            os.environ.pop(key, None)


def active_runs() -> dict[str, Any]:
    """The tracker runs open in this process, from the packages already imported (none imported: none)."""
    runs: dict[str, Any] = {}
    if (wandb := sys.modules.get("wandb")) is not None and getattr(wandb, "run", None) is not None:
        runs["wandb"] = wandb.run
    if (mlflow := sys.modules.get("mlflow")) is not None and (run := mlflow.active_run()) is not None:
        runs["mlflow"] = run
    return runs


def end_runs(names: set[str], stopped: bool) -> None:
    """A stopped run's tracker runs end as KILLED (MLflow) / exit code 75 (wandb); a resume reopens them."""
    if "wandb" in names:
        sys.modules["wandb"].finish(exit_code=75 if stopped else 0)
    if "mlflow" in names:
        sys.modules["mlflow"].end_run(status="KILLED" if stopped else "FINISHED")


def saved_ids(run_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((run_dir / IDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_figures(summary: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """The summary's figures flattened (`versions.torch`): numbers for metrics, the rest as text."""
    numbers: dict[str, float] = {}
    texts: dict[str, str] = {}

    def walk(data: dict[str, Any], prefix: str) -> None:
        for key, value in data.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(value, f"{name}.")
            elif isinstance(value, bool) or value is None or isinstance(value, list):
                texts[name] = json.dumps(value)
            elif isinstance(value, int | float):
                numbers[name] = float(value)
            else:
                texts[name] = str(value)

    walk(summary, "")
    return numbers, texts


def report_summary(names: list[str], run_dir: Path, summary: dict[str, Any]) -> None:
    """Add the run's summary to each tracker (rank 0 only). The run has finished and summary.json is
    written: a tracker that fails here is a warning, never a failed run."""
    from thrifty.distributed.rank import is_main

    if not names or not is_main():
        return
    numbers, texts = run_figures(summary)
    step = int(summary.get("steps", 0))
    for name in names:
        try:
            REPORTERS[name](run_dir, numbers, texts, step)
        except Exception as exc:  # a tracker's store or service, not the run: say so and go on
            print(f"warning: could not add the summary to {name}: {exc}", file=sys.stderr)


def _tensorboard(run_dir: Path, numbers: dict[str, float], texts: dict[str, str], step: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    log_dir = os.environ.get("TENSORBOARD_LOGGING_DIR", str(run_dir / "tensorboard"))
    with SummaryWriter(log_dir=log_dir) as writer:
        for key, value in numbers.items():
            writer.add_scalar(f"thrifty/{key}", value, step)
        rows = [f"| {key} | {value} |" for key, value in {**numbers, **texts}.items()]
        writer.add_text("thrifty/summary", "\n".join(["| figure | value |", "|---|---|", *rows]), step)


def _mlflow(run_dir: Path, numbers: dict[str, float], texts: dict[str, str], step: int) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH, MAX_PARAMS_TAGS_PER_BATCH

    run_id = saved_ids(run_dir).get("mlflow")
    if run_id is None:
        raise RuntimeError(f"no MLflow run id in {run_dir / IDS}")
    client = MlflowClient()
    now = int(time.time() * 1000)  # MLflow timestamps are milliseconds
    client.log_batch(run_id, metrics=[Metric(f"thrifty/{k}", v, now, step) for k, v in numbers.items()])
    # Run-level figures as params too, so the runs table can show and filter them beside the settings.
    params = [Param(f"thrifty.{k}", str(v)[:MAX_PARAM_VAL_LENGTH]) for k, v in {**numbers, **texts}.items()]
    for start in range(0, len(params), MAX_PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=params[start : start + MAX_PARAMS_TAGS_PER_BATCH])


def _wandb(run_dir: Path, numbers: dict[str, float], texts: dict[str, str], step: int) -> None:
    import wandb

    if wandb.run is None:
        raise RuntimeError("the W&B run had already finished")
    wandb.run.summary.update({f"thrifty/{k}": v for k, v in {**numbers, **texts}.items()})


def _trackio(run_dir: Path, numbers: dict[str, float], texts: dict[str, str], step: int) -> None:
    import trackio

    # The integration's run is still open (defer_train_end): figures as a last log entry, text in its config.
    trackio.log({f"thrifty/{k}": v for k, v in numbers.items()}, step=step)
    trackio.config.update({f"thrifty.{k}": v for k, v in texts.items()}, allow_val_change=True)


REPORTERS = {"tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb, "trackio": _trackio}


def defer_train_end(trainer, names: list[str]) -> Callable[[], None]:
    """Hold back the integrations' `on_train_end`, which closes their runs (MLflow ends its run, trackio
    finishes, TensorBoard closes its writer): thrifty evaluates after `train()` returns, and an MLflow
    metric logged after its run ended would start another run. Returns the call that closes them, made
    once the summary is added."""
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    kinds = tuple(INTEGRATION_TO_CALLBACK[name] for name in names)
    held = []
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, kinds):
            held.append(callback.on_train_end)
            callback.on_train_end = lambda *args, **kwargs: None  # this instance only

    def close() -> None:
        for on_train_end in held:
            on_train_end(trainer.args, trainer.state, trainer.control, model=trainer.model)

    return close


def record_ids_callback(names: list[str], run_dir: Path):
    """A TrainerCallback that writes RUN/trackers.json once the integrations have started their runs
    (they come first in the Trainer's callback list), so a resume continues the same tracker runs."""
    from transformers import TrainerCallback

    class RecordIds(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            ids = saved_ids(run_dir)  # with the run's name (remember_run_name)
            if "mlflow" in names and (run := sys.modules["mlflow"].active_run()) is not None:
                ids["mlflow"] = run.info.run_id
            if "wandb" in names and (run := sys.modules["wandb"].run) is not None:
                ids["wandb"] = run.id
            if ids:
                write_json_atomic(run_dir / IDS, ids)

    return RecordIds()
