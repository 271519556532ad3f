"""train.report_to: a tiny run logs to TensorBoard, MLflow, wandb (offline) and trackio through the HF
Trainer's integrations, and each tracker's own reader finds the loss curve and thrifty's summary."""

import json
import os
from pathlib import Path

import pytest

from tests.train.conftest import signal_at, train_args
from thrifty.cli import main
from thrifty.config.load import load_config
from thrifty.errors import UserError

STEPS = 4
ALL = "train.report_to=[tensorboard,mlflow,wandb,trackio]"


@pytest.fixture(scope="module")
def tracked_run(tiny_model, faq_file, tmp_path_factory) -> Path:
    """One run reporting to all four trackers (one training instead of four: ~2 s of steps on 2 cores)."""
    root = tmp_path_factory.mktemp("tracked")
    out = root / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WANDB_MODE", "offline")
        env.setenv("WANDB_SILENT", "true")
        for name in (
            "MLFLOW_TRACKING_URI",
            "MLFLOW_RUN_ID",
            "WANDB_DIR",
            "WANDB_RUN_ID",
            "TENSORBOARD_LOGGING_DIR",
        ):
            env.delenv(name, raising=False)
        args = train_args(tiny_model, faq_file, out, ["train.logging_steps=1", ALL], steps=STEPS)
        assert main(args) == 0
        assert "MLFLOW_TRACKING_URI" not in os.environ  # the run's settings do not outlive it
    return out


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_report_to_parses_one_tracker_a_list_and_none():
    assert load_config(None, ["train.report_to=wandb"]).train.report_to == ["wandb"]
    both = load_config(None, ["train.report_to=[tensorboard,mlflow]"]).train.report_to
    assert both == ["tensorboard", "mlflow"]
    assert load_config(None, ["train.report_to=tensorboard,mlflow"]).train.report_to == both
    assert load_config(None, ["train.report_to=none"]).train.report_to == []
    assert load_config(None, []).train.report_to == []


@pytest.mark.parametrize(
    "value, says",
    [
        ("comet", "train.report_to: unknown tracker 'comet'; choose none or any of: tensorboard, mlflow"),
        ("[none,wandb]", "train.report_to: none turns tracking off"),
    ],
)
def test_a_bad_tracker_is_one_line_naming_the_field(value, says):
    with pytest.raises(UserError) as caught:
        load_config(None, [f"train.report_to={value}"])
    assert str(caught.value).startswith(f"config: {says}") and "\n" not in str(caught.value)


def test_a_missing_tracker_package_fails_before_the_model_loads(
    monkeypatch, tiny_model, faq_file, tmp_path, capsys
):
    import thrifty.train.trackers as trackers

    real = trackers.find_spec
    monkeypatch.setattr(trackers, "find_spec", lambda name: None if name == "mlflow" else real(name))
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, ["train.report_to=[tensorboard,mlflow]"])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: train.report_to=mlflow needs the mlflow package: pip install 'thrifty[track]' "
        "(or pip install mlflow), or drop mlflow from train.report_to"
    )
    assert not out.exists()  # nothing was claimed, loaded or trained


def test_tensorboard_event_files_hold_the_loss_and_the_summary(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tracked_run / "tensorboard"))
    events.Reload()
    tags = events.Tags()["scalars"]
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(1, STEPS + 1))  # logging_steps=1
    metrics = [json.loads(line) for line in (tracked_run / "metrics.jsonl").read_text().splitlines()]
    logged = [m["loss"] for m in metrics if "loss" in m]
    assert [round(e.value, 5) for e in losses] == [round(v, 5) for v in logged]
    summary = _summary(tracked_run)
    after = events.Scalars("thrifty/eval_loss_after")
    assert after[-1].value == pytest.approx(summary["eval_loss_after"]) and after[-1].step == STEPS
    for figure in ("predicted_peak_memory_bytes", "peak_memory_bytes", "predicted_seconds", "wall_seconds"):
        assert f"thrifty/{figure}" in tags, figure


def test_mlflow_store_in_the_run_holds_metrics_params_and_the_summary(tracked_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tracked_run / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("thrifty")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    ids = json.loads((tracked_run / "trackers.json").read_text())
    assert run.info.run_id == ids["mlflow"] and run.info.run_name == ids["name"]
    history = client.get_metric_history(run.info.run_id, "loss")
    assert sorted(m.step for m in history) == list(range(1, STEPS + 1))
    summary = _summary(tracked_run)
    metrics, params = run.data.metrics, run.data.params
    assert metrics["thrifty/eval_loss_before"] == pytest.approx(summary["eval_loss_before"])
    assert metrics["thrifty/peak_memory_bytes"] == pytest.approx(summary["peak_memory_bytes"])
    assert params["thrifty.model"] == summary["model"] and params["thrifty.method"] == "lora"
    assert float(params["thrifty.predicted_seconds"]) == pytest.approx(summary["predicted_seconds"])
    assert params["learning_rate"] == "0.0002"  # the Trainer's own arguments, logged by the integration


def wandb_records(path: Path):
    """The protobuf records of an offline run's .wandb file (LevelDB's log format: 32 KiB blocks of
    chunks, each with a 7-byte header: crc32, length, kind), as `wandb sync` would upload them; wandb
    ships no Python reader for it."""
    import struct

    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    block, header, pos, chunk = 32768, 7, 7, b""
    while pos + header <= len(data):
        left = block - pos % block
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + header])
        if left < header or (length == 0 and kind == 0):  # the rest of a block is padding
            pos += left
            continue
        chunk += data[pos + header : pos + header + length]
        pos += header + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(chunk)
            chunk = b""
            yield record


def test_wandb_offline_run_is_in_the_run_folder_with_the_loss_and_the_summary(tracked_run):
    folders = list((tracked_run / "wandb").glob("offline-run-*"))
    assert len(folders) == 1
    run_id = json.loads((tracked_run / "trackers.json").read_text())["wandb"]
    record_file = folders[0] / f"run-{run_id}.wandb"  # what `wandb sync` uploads
    losses, summary, exits = [], {}, []
    for record in wandb_records(record_file):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            losses += [items["train/loss"]] if "train/loss" in items else []
        elif kind == "summary":
            summary.update(
                {u.key or "/".join(u.nested_key): json.loads(u.value_json) for u in record.summary.update}
            )
        elif kind == "exit":
            exits.append(record.exit.exit_code)
    assert len(losses) == STEPS and exits == [0]
    expected = _summary(tracked_run)
    assert summary["thrifty/eval_loss_after"] == pytest.approx(expected["eval_loss_after"])
    assert summary["thrifty/predicted_peak_memory_bytes"] == expected["predicted_peak_memory_bytes"]
    assert summary["thrifty/model"] == expected["model"]


def test_trackio_local_store_has_the_loss_and_the_summary(tracked_run):
    from trackio.sqlite_storage import SQLiteStorage

    name = json.loads((tracked_run / "trackers.json").read_text())["name"]
    assert name.startswith(f"{tracked_run.name}-")  # the folder's name and its start time
    logs = SQLiteStorage.get_logs("thrifty", name)
    losses = [row["train/loss"] for row in logs if "train/loss" in row]
    assert len(losses) == STEPS
    after = [row["thrifty/eval_loss_after"] for row in logs if "thrifty/eval_loss_after" in row]
    assert after == [pytest.approx(_summary(tracked_run)["eval_loss_after"])]


def test_a_resumed_run_continues_the_same_tracker_runs(tiny_model, faq_file, tmp_path, monkeypatch):
    """Stopped at step 3 (SIGTERM, exit 75) and resumed: TensorBoard gets steps 1..6 with no repeats,
    MLflow's one run carries the whole loss curve, and wandb continues the same run id."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "WANDB_DIR", "WANDB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "run"
    trackers = "train.report_to=[tensorboard,mlflow,wandb]"
    extra = ["train.logging_steps=1", "checkpoint.every_steps=3", trackers]
    args = train_args(tiny_model, faq_file, out, extra, steps=6)
    stopped = signal_at(3, "SIGTERM", "step", args)
    assert stopped.returncode == 75, stopped.stderr[-2000:]
    first = json.loads((out / "trackers.json").read_text())
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "trackers.json").read_text()) == first
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4, 5, 6]
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("thrifty").experiment_id])
    assert [r.info.run_id for r in runs] == [first["mlflow"]]
    steps = sorted(m.step for m in client.get_metric_history(first["mlflow"], "loss"))
    assert steps == [1, 2, 3, 4, 5, 6]
    assert runs[0].data.metrics["thrifty/steps"] == 6 and runs[0].info.status == "FINISHED"
    segments = sorted((out / "wandb").glob("offline-run-*"))  # one folder per process, one run id
    assert len(segments) == 2 and all(f.name.endswith(first["wandb"]) for f in segments)


def test_the_user_environment_wins_over_the_run_defaults(tmp_path, monkeypatch):
    from thrifty.train.trackers import IDS, default_environment

    (tmp_path / IDS).write_text(json.dumps({"mlflow": "abc", "wandb": "xyz"}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    env = default_environment(["mlflow", "tensorboard"], tmp_path)
    assert "MLFLOW_TRACKING_URI" not in env and env["MLFLOW_RUN_ID"] == "abc"
    assert env["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tensorboard")
    assert default_environment([], tmp_path) == {}


def test_two_runs_in_one_process_each_get_their_own_wandb_run(tiny_model, faq_file, tmp_path, monkeypatch):
    """wandb reads its environment once per process: thrifty passes each run's folder and id itself."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DIR", "WANDB_RUN_ID", "WANDB_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    ids = []
    for name in ("first", "second"):
        out = tmp_path / name
        assert main(train_args(tiny_model, faq_file, out, ["train.report_to=wandb"], steps=1)) == 0
        ids.append(json.loads((out / "trackers.json").read_text())["wandb"])
        folders = list((out / "wandb").glob("offline-run-*"))  # in this run's folder, under its own id
        assert len(folders) == 1 and folders[0].name.endswith(ids[-1])
    assert ids[0] != ids[1]


def test_two_runs_in_folders_of_the_same_name_keep_their_own_trackio_curves(tiny_model, faq_file, tmp_path):
    """trackio's store is shared by the machine's runs and reopens a run by its name: `a/run` and `b/run`
    (the same folder name) must not write into one curve."""
    from trackio.sqlite_storage import SQLiteStorage

    names = []
    for parent in ("a", "b"):
        out = tmp_path / parent / "run"
        extra = ["train.logging_steps=1", "train.report_to=trackio"]
        assert main(train_args(tiny_model, faq_file, out, extra, steps=2)) == 0
        names.append(json.loads((out / "trackers.json").read_text())["name"])
    assert names[0] != names[1]
    for name in names:
        logs = SQLiteStorage.get_logs("thrifty", name)
        assert len([row for row in logs if "train/loss" in row]) == 2
