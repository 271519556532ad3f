"""train.report_to in a launched 2-process job: rank 0 alone reports, so each tracker holds one run with
each step's loss once."""

import json

from tests.distributed.conftest import STEPS, job_args, run_job


def test_only_rank_0_reports_to_the_trackers(tiny_model, data_files, tmp_path):
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = job_args(tiny_model, data_files, out, 2, "train.report_to=[tensorboard,mlflow]")
    done = run_job(args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((out / "tensorboard").glob("events.out.tfevents.*"))) == 2  # the integration's + summary
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, STEPS + 1))
    client = MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("thrifty").experiment_id])
    assert len(runs) == 1 and runs[0].data.metrics["thrifty/world_size"] == 2
    assert runs[0].info.run_id == json.loads((out / "trackers.json").read_text())["mlflow"]
