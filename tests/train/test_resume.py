"""Exactness: a run killed (SIGKILL, SIGTERM, between micro-steps, with a corrupted checkpoint) and resumed
ends bitwise identical to the uninterrupted run, with the same loss at every logged step. Plus bad input."""

import json
import random
from pathlib import Path

import pytest

from tests.train.conftest import ACCUMULATING, PLAIN, STEPS, _metrics, assert_same_run, signal_at, train_args
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR


def test_sigkill_at_random_points_then_resume_is_bitwise_identical(tiny_model, faq_file, reference, tmp_path):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    points = sorted(random.Random(4).sample(range(2, STEPS), 3))
    for point in points:  # each kill lands after the previous resume got past its checkpoint
        killed = signal_at(point, "SIGKILL", "step", args + ["--resume", "auto"])
        assert killed.returncode == -9, (point, killed.stderr[-2000:])
        assert not (out / "summary.json").exists()
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumes"] >= 1  # resumes that reached a checkpoint
    assert_same_run(reference["plain"], out)


def test_sigterm_writes_a_checkpoint_exits_75_and_resumes_identically(
    tiny_model, faq_file, reference, tmp_path
):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    stopped = signal_at(5, "SIGTERM", "step", args)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]
    assert "--resume auto" in stopped.stderr
    assert (out / "checkpoints" / "step-000005" / "manifest.json").is_file()  # not a multiple of every_steps
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from_step"] == 5
    assert_same_run(reference["plain"], out)


@pytest.mark.parametrize(("signal", "step"), [("SIGKILL", 7), ("SIGTERM", 6)])
def test_gradient_accumulation_interrupted_between_micro_steps(
    tiny_model, faq_file, reference, tmp_path, signal, step
):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, ACCUMULATING)
    stopped = signal_at(step, signal, "micro", args)
    assert stopped.returncode == (-9 if signal == "SIGKILL" else EXIT_PREEMPTED), stopped.stderr[-2000:]
    if signal == "SIGTERM":  # the step in progress was finished first, then saved: step 7, mid-log-window
        assert (out / "checkpoints" / "step-000007").is_dir()
    assert main(args + ["--resume", "auto"]) == 0
    assert_same_run(reference["accumulating"], out)


def test_corrupted_newest_checkpoint_is_reported_and_skipped(
    tiny_model, faq_file, reference, tmp_path, capsys
):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    assert signal_at(8, "SIGKILL", "step", args).returncode == -9
    newest = out / "checkpoints" / "step-000006"
    with (newest / "optimizer.pt").open("r+b") as handle:  # flip bytes in the middle, size unchanged
        handle.seek(100)
        handle.write(b"\x00\xff\x00\xff")
    assert main(args + ["--resume", "auto"]) == 0
    err = capsys.readouterr().err
    assert "skipping checkpoint" in err and "step-000006" in err and "sha256" in err
    assert "resuming from" in err and "step-000003" in err
    assert_same_run(reference["plain"], out)


# ---- bad input: one line, exit 2, nothing deleted ----


@pytest.fixture
def interrupted(tiny_model, faq_file, tmp_path) -> tuple[Path, list[str]]:
    """A run that died after its step-3 checkpoint (a finished 4-step run minus its summary)."""
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN, steps=4)
    assert main(args) == 0  # a finished 4-step run with a step-3 checkpoint
    (out / "summary.json").unlink()  # now it looks like a run that died after step 3
    return out, args


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_resume_path_that_does_not_exist(interrupted, tmp_path, capsys):
    out, args = interrupted
    before = _snapshot(out)
    assert main(args + ["--resume", str(tmp_path / "nope")]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err
    assert _snapshot(out) == before


@pytest.mark.parametrize("change", ["model", "method.rank=4", "method.target_modules=q_proj"])
def test_checkpoint_from_another_model_or_adapter_layout_is_refused_even_forced(
    interrupted, tiny_model_plain, capsys, change
):
    out, args = interrupted
    before = _snapshot(out)
    extra = ["--model", str(tiny_model_plain)] if change == "model" else [change]
    assert main(args + extra + ["--resume", "auto", "--resume-force"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "belongs to another run" in err
    assert ("model.name" if change == "model" else change.split("=")[0]) in err
    assert _snapshot(out) == before


def test_config_change_is_refused_listing_fields_unless_forced(interrupted, capsys):
    out, args = interrupted
    assert main(args + ["train.learning_rate=1e-3", "train.seed=7", "--resume", "auto"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "train.learning_rate" in err and "train.seed" in err and "--resume-force" in err
    assert main(args + ["train.learning_rate=1e-3", "--resume", "auto", "--resume-force"]) == 0
    assert "warning: resuming with changed fields: train.learning_rate" in capsys.readouterr().err


def test_safe_changes_are_allowed_and_metrics_have_no_duplicates(interrupted):
    out, args = interrupted
    assert main(args + ["train.max_steps=6", "checkpoint.every_steps=2", "--resume", "auto"]) == 0
    steps = [m["step"] for m in _metrics(out) if "loss" in m]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_fresh_start_over_checkpoints_is_refused_and_finished_run_is_not_rerun(interrupted, capsys):
    out, args = interrupted
    before = _snapshot(out)
    assert main(args) == EXIT_USER_ERROR
    assert "--resume auto" in capsys.readouterr().err
    assert main(args + ["--overwrite", "--resume", "auto"]) == EXIT_USER_ERROR
    assert "only one of them" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert main(args + ["--resume", "auto"]) == 0
    assert main(args + ["--resume", "auto"]) == 0  # finished: says so, trains nothing
    assert "already finished" in capsys.readouterr().err


def test_resume_auto_without_output_and_without_checkpoints(tiny_model, faq_file, tmp_path, capsys):
    args = train_args(tiny_model, faq_file, tmp_path / "x", PLAIN)
    args.remove("--output")
    args.remove(str(tmp_path / "x"))
    assert main(args + ["--resume", "auto"]) == EXIT_USER_ERROR
    assert "needs --output" in capsys.readouterr().err
    fresh = train_args(tiny_model, faq_file, tmp_path / "fresh", PLAIN, steps=2)
    assert main(fresh + ["--resume", "auto"]) == 0  # nothing to resume: starts at step 0
    assert "starting from step 0" in capsys.readouterr().err
