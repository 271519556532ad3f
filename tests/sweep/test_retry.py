"""A retried trial continues its own run from the last verified checkpoint instead of starting over:
after a SIGTERM (preemption), after its worker died (heartbeat retry), and after the whole sweep was
stopped with its workers running."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna

from tests.train.conftest import signal_at
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED
from thrifty.sweep import storage
from thrifty.sweep.results import read_rows

SPACE = {"train.learning_rate": {"low": 1e-4, "high": 3e-2, "log": True}}


def sweep_args(path: Path, out: Path) -> list[str]:
    return ["sweep", str(path), "--output", str(out), "--no-progress"]


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def study_of(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=out.name, storage=storage.default_url(out))


def test_a_preempted_trial_is_retried_from_its_checkpoint(sweep_file):
    path = sweep_file({"sampler": "lhs", "trials": 2, "space": SPACE}, train={"max_steps": 6})
    out = path.parent / "preempted"
    stopped = signal_at(3, "SIGTERM", "step", sweep_args(path, out))  # a spot machine's notice at step 3
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]
    first = out / "trials" / "trial-0000"
    assert (first / "checkpoints" / "step-000003").is_dir() and not (first / "summary.json").exists()
    assert main(sweep_args(path, out)) == 0  # rerun: the retry goes first
    summary = summary_of(first)
    assert summary["resumed_from_step"] == 3 and summary["steps"] == 6
    study = study_of(out)
    retry = study.trials[1]
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert retry.params == study.trials[0].params and retry.user_attrs["run_dir"] == str(first)
    assert retry.system_attrs["failed_trial"] == 0  # Optuna's own retry marker: no design point taken
    # The retry trained into trial 0's folder; no folder was started for it.
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["trial-0000", "trial-0002"]
    rows = {r["trial_id"]: r for r in read_rows(out / "results.jsonl")}
    assert rows[1]["state"] == "complete" and rows[1]["steps"] == 6 and rows[1]["run_dir"] == str(first)


def test_a_trial_whose_worker_died_is_retried_from_its_checkpoint(sweep_file, monkeypatch):
    path = sweep_file(
        {"sampler": "random", "trials": 1, "space": SPACE},
        train={"max_steps": 6},
        checkpoint={"every_steps": 3},
    )
    out = path.parent / "killed"
    killed = signal_at(4, "SIGKILL", "step", sweep_args(path, out))
    assert killed.returncode == -9, killed.stderr[-2000:]
    first = out / "trials" / "trial-0000"
    assert (first / "checkpoints" / "step-000003").is_dir()
    assert [t.state.name for t in study_of(out).trials] == ["RUNNING"]  # nobody said it ended
    # The rerun takes a trial without a heartbeat for 1 s (not 60) for dead: Optuna fails it and
    # queues it again (RetryHeartbeatStaleTrialCallback), and the retry continues its folder.
    monkeypatch.setattr(storage, "GRACE_SECONDS", 1)
    time.sleep(1.5)
    assert main(sweep_args(path, out)) == 0
    summary = summary_of(first)
    assert summary["resumed_from_step"] == 3 and summary["steps"] == 6
    assert [t.state.name for t in study_of(out).trials] == ["FAIL", "COMPLETE"]
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["trial-0000"]


def newest_checkpoint(out: Path, timeout_s: float) -> Path | None:
    """Poll until some trial has written a checkpoint (training is under way), or give up."""
    stop = time.monotonic() + timeout_s
    while time.monotonic() < stop:
        found = sorted((out / "trials").glob("trial-*/checkpoints/step-*/manifest.json"))
        if found:
            return found[-1].parent
        time.sleep(0.05)
    return None


def test_a_sweep_stopped_with_its_workers_running_resumes_their_trials(sweep_file):
    # SIGTERM to the sweep reaches its workers (their own session: a terminal's Ctrl-C would not): each
    # checkpoints its trial, queues it again and exits 75. Before, the workers trained on, orphaned.
    path = sweep_file(
        {"sampler": "lhs", "trials": 2, "workers": 2, "space": SPACE},
        train={"max_steps": 30},
        checkpoint={"every_steps": 2},
    )
    out = path.parent / "stopped"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", "import sys; from thrifty.cli import main; sys.exit(main(sys.argv[1:]))"]
    parent = subprocess.Popen(command + sweep_args(path, out), env=env, stderr=subprocess.PIPE, text=True)
    checkpoint = newest_checkpoint(out, timeout_s=180)
    assert checkpoint is not None
    parent.send_signal(signal.SIGTERM)
    _, err = parent.communicate(timeout=180)
    assert parent.returncode == EXIT_PREEMPTED, err[-3000:]
    assert "Traceback" not in err
    trials = study_of(out).trials
    assert not [t for t in trials if t.state.name == "RUNNING"]  # every worker ended its trial
    interrupted = [t for t in trials if t.state.name == "FAIL"]
    assert interrupted and all(t.state.name == "WAITING" for t in trials if "failed_trial" in t.system_attrs)
    assert main(sweep_args(path, out)) == 0
    run_dir = checkpoint.parent.parent
    summary = summary_of(run_dir)
    assert summary["resumed_from_step"] >= int(checkpoint.name.split("-")[1]) > 0 and summary["steps"] == 30
    assert sum(t.state.name == "COMPLETE" for t in study_of(out).trials) == 2
