"""A sweep trial with distributed.nproc > 1 runs as a launched job (thrifty.train.launch) and is scored
on what the job's summary says; the pruner does not see its steps, only the final value."""

import json
from pathlib import Path

import yaml

from thrifty.cli import main
from thrifty.sweep.results import read_rows


def test_a_two_process_trial_finishes_as_a_launched_job(sweep_file):
    space = {"train.learning_rate": {"choices": [1e-3]}}
    path = sweep_file({"sampler": "grid", "space": space}, train={"max_steps": 2})
    config = yaml.safe_load(path.read_text())
    config["distributed"] = {"nproc": 2}  # two CPU processes (gloo): the trial goes through launch_run
    path.write_text(yaml.safe_dump(config))
    out = path.parent / "nproc"
    assert main(["sweep", str(path), "--output", str(out), "--no-progress"]) == 0
    (row,) = read_rows(out / "results.jsonl")
    assert row["state"] == "complete" and row["steps"] == 2 and row["eval_loss"] > 0
    summary = json.loads((Path(row["run_dir"]) / "summary.json").read_text())
    assert summary["world_size"] == 2
