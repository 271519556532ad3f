"""The last seconds of a run: a stop during the final evaluation or the final save is caught. Before the
evaluation ends it checkpoints the last step (exit 75) and `--resume auto` only evaluates and saves;
after it the run finishes (exit 0); a second signal exits at once and leaves nothing half-written."""

import json
from pathlib import Path

from tests.train.conftest import PLAIN, STEPS, _metrics, assert_same_run, signal_at, train_args
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED
from thrifty.train.checkpoint import read_manifest, verify
from thrifty.train.resume import find_checkpoint

OUTPUTS = ("adapter", "tokenizer", "summary.json")


def _done_checkpoint(run: Path, step: int) -> Path:
    """The checkpoint of the last step, complete and marked as written after training was over."""
    folder = run / "checkpoints" / f"step-{step:06d}"
    assert verify(folder) is None
    assert read_manifest(folder)["train_done"] is True
    return folder


def _resume_and_check(args: list[str], run: Path, reference: Path, step: int, capsys) -> None:
    assert main(args + ["--resume", "auto"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from_step"] == step and summary["steps"] == summary["resumed_from_step"]
    assert "training had finished" in capsys.readouterr().err
    assert_same_run(reference, run)  # same adapter, losses and metrics: nothing trained again


def test_stop_in_the_final_evaluation_checkpoints_and_resume_only_evaluates_and_saves(
    tiny_model, faq_file, reference, tmp_path, capsys
):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)  # checkpoints at 3, 6, 9 of 10 steps
    stopped = signal_at(STEPS, "SIGTERM", "eval", args)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]
    assert "during the final evaluation" in stopped.stderr and "--resume auto" in stopped.stderr
    assert not any((out / name).exists() for name in OUTPUTS)
    manifest = (_done_checkpoint(out, STEPS) / "manifest.json").read_bytes()

    again = signal_at(STEPS, "SIGTERM", "eval", args + ["--resume", "auto"])  # stopped again: no new write
    assert again.returncode == EXIT_PREEMPTED, again.stderr[-2000:]
    assert (_done_checkpoint(out, STEPS) / "manifest.json").read_bytes() == manifest
    _resume_and_check(args, out, reference["plain"], STEPS, capsys)


def test_stop_in_the_final_save_finishes_the_run(tiny_model, faq_file, reference, tmp_path):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    finished = signal_at(0, "SIGTERM", "save", args)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "came after the final evaluation: finished the run" in finished.stderr
    assert not list(out.glob("*.tmp")) and not list(out.glob("*.old"))
    assert_same_run(reference["plain"], out)


def test_second_signal_in_the_final_save_exits_at_once_and_leaves_no_output_that_looks_complete(
    tiny_model, faq_file, reference, tmp_path
):
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN)
    killed = signal_at(0, "SIGTERM,SIGTERM", "save", args)
    assert killed.returncode == EXIT_PREEMPTED, killed.stderr[-2000:]
    assert "again: exiting now" in killed.stderr
    assert (out / "adapter.tmp" / "adapter_model.safetensors").is_file()  # it died mid-save...
    assert not (out / "adapter").exists() and not (out / "summary.json").exists()  # ...and it shows
    assert (out / "tokenizer" / "tokenizer_config.json").is_file()  # renamed first: complete
    assert find_checkpoint(out, "auto") == out / "checkpoints" / "step-000009"  # the last periodic one
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from_step"] == 9
    assert_same_run(reference["plain"], out)


def test_stop_at_the_last_step_resumes_without_training_one_step_more(tiny_model, faq_file, tmp_path, capsys):
    # 7 steps of 5 per epoch: HF's train() resumed at step 7 would enter epoch 2 and train step 8.
    steps, out = 7, tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, PLAIN, steps=steps)
    uninterrupted = train_args(tiny_model, faq_file, tmp_path / "reference", PLAIN, steps=steps)
    assert main(uninterrupted) == 0
    stopped = signal_at(steps, "SIGTERM", "step", args)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]
    _done_checkpoint(out, steps)
    capsys.readouterr()
    _resume_and_check(args, out, tmp_path / "reference", steps, capsys)
    assert [m["step"] for m in _metrics(out) if "loss" in m] == list(range(1, steps + 1))
