"""`thrifty train --nproc 2` on CPU: DDP and FSDP2 through accelerate's launcher, against the 1-process
run with the same global batch; stops, kills and resumes of the whole job and of one rank. DeepSpeed
runs on CPU processes through its CPU accelerator (its first use JIT-builds one op with g++, ~70 s)."""

import json
import time

import pytest

from tests.distributed.conftest import job_args, run_job
from tests.train.conftest import assert_same_run
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR

# 2 processes average two gradients where 1 process sums two micro-batches: the same arithmetic in
# another order, so float32 rounding differs in the last bits (measured: ~1e-7 on the losses).
LOSS_RTOL = 1e-5


def losses(run) -> list[float]:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [line["loss"] for line in lines if "loss" in line]


@pytest.mark.parametrize("strategy", ["ddp", "fsdp", "zero2", "zero3"])
def test_two_processes_train_like_one_with_the_same_global_batch(one_process, two_processes, strategy):
    from safetensors.torch import load_file

    run = two_processes[strategy]
    expected, got = losses(one_process), losses(run)
    assert len(got) == len(expected) == 6  # rank 0 alone writes metrics.jsonl: no line twice
    assert got == pytest.approx(expected, rel=LOSS_RTOL)
    ref = load_file(one_process / "adapter" / "adapter_model.safetensors")
    adapter = load_file(run / "adapter" / "adapter_model.safetensors")
    assert adapter.keys() == ref.keys()  # gathered from the shards into the standard PEFT layout
    assert max((adapter[k] - ref[k]).abs().max().item() for k in ref) < 1e-5
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["strategy"] == strategy
    assert summary["global_batch_size"] == 4 and summary["gradient_accumulation_steps"] == 1
    per_rank = summary["peak_memory_bytes_per_rank"]
    assert len(per_rank) == 2 and min(per_rank) > 0 and summary["peak_memory_bytes"] == max(per_rank)
    assert summary["predicted_peak_memory_bytes"] > 0  # the planner's per-device figure beside it
    assert json.loads((one_process / "summary.json").read_text())["gradient_accumulation_steps"] == 2


def test_the_saved_adapter_loads_with_peft(two_processes, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(base, two_processes["fsdp"] / "adapter")
    assert sum(p.numel() for n, p in model.named_parameters() if "lora_" in n) > 0


# FSDP2's sharded checkpoints are the hardest case; DDP's resume is the SIGTERM test below. ZeRO-3 resumed
# bitwise the same way when checked by hand (2026-12-03); left out of CI for its ~80 s.
@pytest.mark.parametrize("strategy", ["fsdp"])
def test_sigkill_of_the_whole_job_then_resume_is_bitwise_equal(
    tiny_model, data_files, two_processes, tmp_path, strategy
):
    out = tmp_path / "run"
    args = job_args(
        tiny_model, data_files, out, 2, f"distributed.strategy={strategy}", "checkpoint.every_steps=2"
    )
    killed = run_job(args, signal_at="5:SIGKILL:job")
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    assert not (out / "summary.json").exists()
    resumed = run_job(
        job_args(
            tiny_model,
            data_files,
            out,
            2,
            f"distributed.strategy={strategy}",
            "checkpoint.every_steps=2",
            "--resume",
            "auto",
        )
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr and "step-000004" in resumed.stderr
    assert_same_run(two_processes[strategy], out)


def test_sigterm_to_the_launcher_stops_every_rank_at_one_step_then_resumes_bitwise(
    tiny_model, data_files, two_processes, tmp_path
):
    out = tmp_path / "run"
    stopped = run_job(
        job_args(tiny_model, data_files, out, 2, "distributed.strategy=ddp"), signal_at="3:SIGTERM:launcher"
    )
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-3000:]
    (checkpoint,) = (out / "checkpoints").iterdir()  # one checkpoint: the stop's, for every rank
    assert {"thrifty_state.pt", "thrifty_state_rank1.pt", "rng_state_0.pth", "rng_state_1.pth"} <= {
        p.name for p in checkpoint.iterdir()
    }
    assert stopped.stderr.count("preempted:") == 1 and "Traceback" not in stopped.stderr
    assert main(job_args(tiny_model, data_files, out, 2, "distributed.strategy=ddp", "--resume", "auto")) == 0
    assert_same_run(two_processes["ddp"], out)


def test_a_rank_that_dies_ends_the_job_in_bounded_time_and_resume_is_refused_with_another_count(
    tiny_model, data_files, tmp_path, capsys
):
    out = tmp_path / "run"
    t0 = time.monotonic()
    died = run_job(
        job_args(tiny_model, data_files, out, 2, "checkpoint.every_steps=2"), signal_at="3:SIGKILL:peer"
    )
    assert died.returncode not in (0, EXIT_PREEMPTED) and time.monotonic() - t0 < 180
    assert "another process of the job died" in died.stderr and "--resume auto" in died.stderr
    assert not (out / "summary.json").exists()
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step-000002"]
    assert (out / "logs" / "rank-1.log").is_file()  # the quiet rank's output, kept for the post-mortem
    capsys.readouterr()
    assert (
        main(job_args(tiny_model, data_files, out, 1, "checkpoint.every_steps=2", "--resume", "auto"))
        == EXIT_USER_ERROR
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by 2 process(es)" in err[0] and "--nproc 2" in err[0]


def test_full_fine_tuning_under_fsdp_gathers_a_whole_model_that_loads(tiny_model, data_files, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    args = job_args(tiny_model, data_files, out, 2, "--method", "full", "distributed.strategy=fsdp")
    done = run_job([*args, "--max-steps", "2"])
    assert done.returncode == 0, done.stderr[-3000:]
    model = AutoModelForCausalLM.from_pretrained(out / "model")  # unsharded, standard HF layout
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in base.parameters())
    moved = [
        n
        for (n, p), (_, q) in zip(model.named_parameters(), base.named_parameters(), strict=True)
        if not p.equal(q)
    ]
    assert moved  # trained weights, not the base written back
