"""The sweep folder is never one of the user's, and local workers each get their own GPU."""

import json
from types import SimpleNamespace

import pytest

from thrifty.cli import main
from thrifty.sweep import runner
from thrifty.sweep.runner import prepare, visible_gpus, worker_devices

SPACE = {"method.rank": {"choices": [2, 4]}}


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_sweep_into_a_folder_of_the_users_is_refused_and_nothing_is_written(sweep_file, tmp_path, capsys):
    path = sweep_file({"sampler": "grid", "space": SPACE})
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    (mine / "results.jsonl").write_text('{"mine": true}\n')  # a name the sweep writes
    before = _snapshot(mine)
    assert main(["sweep", str(path), "--output", str(mine), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: output") and "not a thrifty folder" in err[0]
    assert _snapshot(mine) == before  # no marker, no sweep.json, no database written


def test_a_sweep_resumes_into_its_own_folder_and_not_into_another_kinds(sweep_file, tmp_path):
    path = sweep_file({"sampler": "grid", "space": SPACE})
    out = tmp_path / "sweep"
    first = prepare(path, {}, str(out))
    assert json.loads((out / ".thrifty").read_text())["kind"] == "sweep"
    assert (out / "sweep.json").is_file()
    again = prepare(path, {}, str(out))  # the same folder again: a resume
    assert again.study_name == first.study_name
    run = tmp_path / "run"
    run.mkdir()
    (run / ".thrifty").write_text(json.dumps({"kind": "train"}))
    with pytest.raises(runner.UserError, match="thrifty train folder, not a sweep one"):
        prepare(path, {}, str(run))
    empty = tmp_path / "empty"
    empty.mkdir()
    prepare(path, {}, str(empty))  # an empty folder is fine
    assert (empty / ".thrifty").is_file()


@pytest.mark.parametrize(
    ("environ", "count", "gpus"),
    [
        ({}, 0, []),  # no GPU: nothing to hand out
        ({}, 3, ["0", "1", "2"]),
        ({"CUDA_VISIBLE_DEVICES": "2,5"}, 2, ["2", "5"]),  # the user's choice is honoured
        ({"CUDA_VISIBLE_DEVICES": " GPU-a1b2 , GPU-c3d4"}, 2, ["GPU-a1b2", "GPU-c3d4"]),
        ({"CUDA_VISIBLE_DEVICES": "3,-1,4"}, 1, ["3"]),  # CUDA stops at the first invalid entry
        ({"CUDA_VISIBLE_DEVICES": ""}, 0, []),
    ],
)
def test_visible_gpus(environ, count, gpus):
    assert visible_gpus(environ, count) == gpus


def test_worker_devices_go_round_robin():
    assert worker_devices(4, ["0", "1"]) == ["0", "1", "0", "1"]
    assert worker_devices(3, ["2", "5", "7", "9"]) == ["2", "5", "7"]
    assert worker_devices(2, []) == [None, None]


class FakePopen:
    started: list = []

    def __init__(self, command, env, start_new_session):
        assert isinstance(command, list) and all(isinstance(a, str) for a in command)  # argv, no shell
        FakePopen.started.append((command, env))

    def wait(self):
        return 0

    def poll(self):
        return 0


@pytest.mark.parametrize(("count", "expected"), [(2, ["0", "1", "0"]), (0, [None, None, None])])
def test_each_worker_is_started_on_its_own_gpu(monkeypatch, capsys, count, expected):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(runner, "gpu_count", lambda: count)
    monkeypatch.setattr(runner.subprocess, "Popen", FakePopen)
    FakePopen.started = []
    assert runner.run_workers(SimpleNamespace(sweep_dir="/sweeps/s"), 6, 3, None) == 0
    assert [env.get("CUDA_VISIBLE_DEVICES") for _, env in FakePopen.started] == expected
    assert [command[-1] for command, _ in FakePopen.started] == ["0", "1", "2"]  # worker index
    err = capsys.readouterr().err
    if count:
        assert err.count("\n") == 1
        assert "worker 0 -> GPU 0, worker 1 -> GPU 1, worker 2 -> GPU 0 (some share one)" in err
    else:
        assert "GPU" not in err
