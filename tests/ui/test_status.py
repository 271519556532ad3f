"""A run's status comes from its files: summary.json, a live process, checkpoints' manifests, exit codes."""

import os
import subprocess
import sys
import time

from tests.ui.fakes import add_checkpoint, fake_run
from thrifty.ui.folders import find
from thrifty.ui.status import checkpoints, live_trainers, run_status


def test_finished_failed_preempted_and_running(tmp_path):
    finished = fake_run(tmp_path, "done")
    broken = fake_run(tmp_path, "broken", finished=False)
    stopped = fake_run(tmp_path, "stopped", finished=False, checkpoint=6)
    assert run_status(finished, {}).name == "finished"
    assert run_status(broken, {}).name == "failed" and not run_status(broken, {}).resumable
    status = run_status(stopped, {})
    assert (status.name, status.resumable, status.detail) == ("preempted", True, "resumable from step 6")
    assert run_status(stopped, {}, exit_code=75).detail == "exit 75; resumable from step 6"
    crashed = run_status(stopped, {}, exit_code=1)  # a crash after a checkpoint: failed, but resumable
    assert (crashed.name, crashed.resumable) == ("failed", True)
    running = run_status(stopped, {stopped.resolve(): 4242})
    assert (running.name, running.pid) == ("running", 4242)


def test_a_checkpoint_without_a_complete_manifest_is_not_resumable(tmp_path):
    run = fake_run(tmp_path, "r", finished=False)
    add_checkpoint(run, 3, complete=False)
    damaged = add_checkpoint(run, 5)
    (damaged / "adapter_model.safetensors").write_bytes(b"short")
    states = {c["step"]: c["state"] for c in checkpoints(run)}
    assert states == {5: "damaged", 3: "incomplete"}
    assert run_status(run, {}).name == "failed" and not run_status(run, {}).resumable
    add_checkpoint(run, 2)
    assert run_status(run, {}).detail == "resumable from step 2"  # the newest complete one


def test_live_trainers_finds_a_thrifty_train_process_by_its_output(tmp_path):
    """A process whose argv is `python -m thrifty train ... --output DIR` (sleeping, not training)."""
    run = tmp_path / "live"
    script = "import sys, time; time.sleep(30)"
    # argv as /proc shows it: python -c SCRIPT -m thrifty train --output live (the extra words are ignored)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "-m", "thrifty", "train", "--output", "live"], cwd=tmp_path
    )
    try:
        assert live_trainers().get(run.resolve()) == proc.pid
    finally:
        proc.kill()
        proc.wait()
    assert run.resolve() not in live_trainers()
    assert os.getpid() not in live_trainers().values()


def test_a_launched_job_maps_to_its_launcher_not_a_worker(tmp_path):
    """Launcher and worker carry the same --output: the stop goes to the launcher (it passes it on)."""
    import psutil

    worker = "import time; time.sleep(30)"
    launcher = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, *sys.argv[1:]]); time.sleep(30)"
    )
    # The worker reruns the launcher's argv with the worker script: both read `... train --output job`.
    tail = ["-m", "thrifty", "train", "--output", "job"]
    proc = subprocess.Popen([sys.executable, "-c", launcher, "-c", worker, *tail], cwd=tmp_path)
    try:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 10
        while not parent.children() and time.monotonic() < deadline:
            time.sleep(0.05)
        (child,) = parent.children()
        assert child.cmdline()[-5:] == tail
        assert live_trainers()[(tmp_path / "job").resolve()] == proc.pid
    finally:
        for p in psutil.Process(proc.pid).children():
            p.kill()
        proc.kill()
        proc.wait()


def test_find_walks_runs_sweeps_and_comparisons_but_not_inside_runs(tmp_path):
    fake_run(tmp_path, "a")
    fake_run(tmp_path / "group", "b", checkpoint=1)
    (tmp_path / ".thrifty-ui").mkdir()  # the page's own state folder is not a run
    unmarked = tmp_path / "cmp" / "runs" / "lora"  # compare's runs carry no marker
    unmarked.mkdir(parents=True)
    (unmarked / "config.yaml").write_text("{}")
    (unmarked / "summary.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    assert [(f.kind, f.rel) for f in find(tmp_path)] == [
        ("train", "a"),
        ("train", "cmp/runs/lora"),
        ("train", "group/b"),
    ]


def test_pareto_set_and_importance_of_a_sweep(tmp_path):
    from thrifty.ui.sweeps import importance, pareto_set

    rows = [
        {"trial_id": 0, "state": "complete", "eval_loss": 1.0, "accuracy": 0.5},
        {"trial_id": 1, "state": "complete", "eval_loss": 0.8, "accuracy": 0.4},
        {"trial_id": 2, "state": "complete", "eval_loss": 1.1, "accuracy": 0.45},  # beaten by trial 0
        {"trial_id": 3, "state": "pruned", "eval_loss": 0.1, "accuracy": 0.9},  # pruned: never best
        {"trial_id": 4, "state": "fail", "eval_loss": None, "accuracy": None},
    ]
    assert pareto_set(rows, {"eval_loss": 1, "accuracy": -1}) == {0, 1}  # accuracy is maximised
    assert pareto_set(rows, {"eval_loss": 1}) == {1}
    report = tmp_path / "report.md"
    report.write_text(
        "# Sweep\n\n## Parameter importance\n\n- train.learning_rate: 0.829\n- method.rank: 0.171\n\n![p](p.png)\n"
    )
    assert importance(report) == [("train.learning_rate", 0.829), ("method.rank", 0.171)]
    assert importance(tmp_path / "missing.md") == []
