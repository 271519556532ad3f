"""`thrifty run` supervisor (restarts, backoff, stop on bad input) and the SkyPilot task file."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from thrifty.cli import build_parser, main
from thrifty.supervise.restart import backoff_seconds, child_command, supervise
from thrifty.supervise.skypilot import skypilot_task


def fake_training(tmp_path: Path, codes: list[int]) -> list[str]:
    """A command that exits with codes[i] on its i-th run, counting runs in a file."""
    script = tmp_path / "fake.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import pathlib, sys
            counter = pathlib.Path({str(tmp_path / "runs")!r})
            n = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(n + 1))
            sys.exit({codes!r}[n])
            """
        )
    )
    return [sys.executable, str(script)]


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_reruns_after_preemption_and_crash_until_done(tmp_path):
    assert supervise(fake_training(tmp_path, [75, 1, 75, 0]), restarts=5, base_backoff=0) == 0
    assert runs(tmp_path) == 4


def test_stops_at_once_on_bad_input(tmp_path):
    assert supervise(fake_training(tmp_path, [75, 2, 0]), restarts=5, base_backoff=0) == 2
    assert runs(tmp_path) == 2


def test_gives_up_after_the_restart_budget(tmp_path):
    assert supervise(fake_training(tmp_path, [75, 75, 75, 75]), restarts=2, base_backoff=0) == 75
    assert runs(tmp_path) == 3


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n, 5) for n in range(4)] == [5, 10, 20, 40]
    assert backoff_seconds(20, 5) == 300


def test_child_command_fixes_the_run_folder_and_resumes(tmp_path):
    from thrifty.config.args import config_from_args

    args = build_parser().parse_args(
        ["run", "my.yaml", "train.seed=3", "--max-steps", "7", "--restarts", "4"]
    )
    args.args = ["train.seed=3"]  # no config file on disk for this test
    command = child_command(args, config_from_args(args))
    assert command[1:4] == ["-m", "thrifty", "train"]
    assert "train.seed=3" in command and command[command.index("--max-steps") + 1] == "7"
    assert command[-2:] == ["--resume", "auto"] and any(c.startswith("output.dir=runs/") for c in command)


def test_thrifty_run_end_to_end_after_a_sigterm(tiny_model, tmp_path):
    """The real CLI: the first attempt is preempted (SIGTERM from outside), the supervisor resumes it."""
    data = tmp_path / "faq.jsonl"
    from tests.conftest import FAQ

    data.write_text("".join(json.dumps(r) + "\n" for r in FAQ * 5))
    out = tmp_path / "run"
    args = ["run", "--model", str(tiny_model), "--data", str(data), "--output", str(out), "--no-progress"]
    args += ["--max-steps", "40", "--backoff", "0", "--restarts", "2", "checkpoint.every_steps=10"]
    args += ["data.max_seq_len=128", "train.micro_batch_size=2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "thrifty", *args], env=env, stderr=subprocess.PIPE, text=True
    )
    lines = []
    for line in proc.stderr:  # preempt the first attempt once it has checkpointed
        lines.append(line)
        if "checkpoint:" in line:
            break
    child = _child_of(proc.pid)
    os.kill(child, 15)
    lines += proc.stderr.readlines()
    assert proc.wait(timeout=240) == 0, "".join(lines)[-3000:]
    text = "".join(lines)
    assert "training exited 75; resuming" in text and "resuming from" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 40 and summary["resumes"] == 1


def _child_of(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0])


@pytest.mark.parametrize("spot", [True, False])
def test_skypilot_task_has_spot_recovery_bucket_mount_and_resume_command(tmp_path, spot):
    config = tmp_path / "legal.yaml"
    config.write_text("train:\n  max_steps: 100\n")
    argv = [
        "launch",
        "skypilot",
        str(config),
        "method.rank=8",
        "--bucket",
        "s3://bkt/thrifty",
        "--accelerators",
        "L4:1",
    ]
    task_file = tmp_path / "task.yaml"
    assert main(argv + (["--spot"] if spot else []) + ["--task", str(task_file)]) == 0
    task = yaml.safe_load(task_file.read_text())
    assert task == skypilot_task(build_parser().parse_args(argv + (["--spot"] if spot else [])))
    assert task["name"] == "thrifty-legal"
    assert task["resources"]["accelerators"] == "L4:1" and task["resources"]["use_spot"] is spot
    assert ("job_recovery" in task["resources"]) is spot
    assert task["file_mounts"]["/checkpoints"] == {"source": "s3://bkt/thrifty", "mode": "MOUNT"}
    assert task["file_mounts"]["/thrifty/config.yaml"] == str(config.resolve())
    run = task["run"]
    assert run.startswith("thrifty run /thrifty/config.yaml method.rank=8")
    assert "checkpoint.remote=file:///checkpoints/thrifty-legal" in run and "--restarts 20" in run


def test_skypilot_without_bucket_is_refused(tmp_path, capsys):
    assert main(["launch", "skypilot", "--spot", "--task", str(tmp_path / "t.yaml")]) == 2
    assert "--bucket" in capsys.readouterr().err
