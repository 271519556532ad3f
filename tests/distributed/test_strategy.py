"""What the launching process decides before any worker starts: the strategy, the refusals, the
accelerate command line, the Trainer arguments, and one exit code from the workers' records."""

import pytest

from thrifty.config.load import load_config
from thrifty.distributed import strategy as strat
from thrifty.errors import EXIT_PREEMPTED, UserError
from thrifty.train.launch import accelerate_argv, combine


def config(*overrides: str):
    return load_config(None, ["distributed.nproc=2", *overrides])


def test_global_batch_derives_accumulation_for_any_process_count():
    for nproc, accumulation in ((1, 4), (2, 2), (4, 1)):
        c = load_config(
            None, [f"distributed.nproc={nproc}", "train.micro_batch_size=2", "train.global_batch_size=8"]
        )
        assert c.train.gradient_accumulation_steps == accumulation and c.global_batch == 8


def test_auto_is_ddp_when_the_plan_fits_else_the_first_sharded_strategy_that_fits(monkeypatch):
    peaks = {"ddp": 100, "fsdp": 40, "zero3": 30}
    monkeypatch.setattr(strat, "device_memory_bytes", lambda: 50)
    assert strat.choose(config(), lambda s: {"peak_memory_bytes": peaks[s]})[0] == "fsdp"
    monkeypatch.setattr(strat, "device_memory_bytes", lambda: 1000)
    assert strat.choose(config(), lambda s: {"peak_memory_bytes": peaks[s]})[0] == "ddp"
    monkeypatch.setattr(strat, "device_memory_bytes", lambda: None)  # a CPU: RAM is not the limit
    assert strat.choose(config(), lambda s: {"peak_memory_bytes": peaks[s]})[0] == "ddp"
    assert strat.choose(load_config(None, []), lambda s: {"peak_memory_bytes": 1})[0] == "single"


@pytest.mark.parametrize(
    ("overrides", "device", "gpus", "match"),
    [
        (["distributed.nproc=4"], "cuda", 2, "--nproc 4 asks for one GPU per process but 2 are visible"),
        ([], "mps", 0, "Apple MPS trains in one process"),
        (["method.name=qlora", "distributed.strategy=zero3"], "cuda", 2, "use distributed.strategy=fsdp"),
        (["method.name=prompt", "distributed.strategy=zero3"], "cuda", 2, "use distributed.strategy=ddp"),
        (["train.auto_micro_batch=on"], "cuda", 2, "set train.micro_batch_size yourself"),
    ],
)
def test_combinations_that_cannot_work_are_refused_before_launch(overrides, device, gpus, match, monkeypatch):
    monkeypatch.setattr(strat.importlib.util, "find_spec", lambda name: object())  # DeepSpeed "installed"
    c = config(*overrides)
    with pytest.raises(UserError, match=match):
        strat.check(c, strat.resolve(c), device, gpus)


def test_zero_without_deepspeed_names_the_extra(monkeypatch):
    monkeypatch.setattr(strat.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"thrifty\[deepspeed\]"):
        strat.check(config("distributed.strategy=zero2"), "zero2", "cuda", 2)


def test_trainer_arguments_per_strategy():
    assert strat.training_kwargs(load_config(None, []), "single", "cpu") == {}
    ddp = strat.training_kwargs(config(), "ddp", "cpu")
    assert ddp == {"ddp_backend": "gloo", "ddp_find_unused_parameters": False}
    assert strat.training_kwargs(config(), "ddp", "cuda")["ddp_backend"] == "nccl"
    fsdp = strat.training_kwargs(config("train.gradient_checkpointing=true"), "fsdp", "cuda")
    assert fsdp["fsdp"] == "full_shard auto_wrap" and fsdp["fsdp_config"]["version"] == 2
    assert fsdp["fsdp_config"]["activation_checkpointing"] and not fsdp["activation_checkpointing"]
    offloaded = strat.training_kwargs(
        config("distributed.strategy=fsdp", "distributed.offload=params"), "fsdp", "cuda"
    )
    assert offloaded["fsdp"].endswith(" offload")
    zero = strat.training_kwargs(
        config("distributed.strategy=zero3", "distributed.offload=optimizer"), "zero3", "cuda"
    )
    stage = zero["deepspeed"]["zero_optimization"]
    assert (
        stage["stage"] == 3 and stage["offload_optimizer"]["device"] == "cpu" and "offload_param" not in stage
    )


def test_accelerate_command_line_carries_the_job_shape():
    c = config("distributed.nnodes=2", "distributed.node_rank=1", "distributed.master_addr=10.0.0.5")
    argv = accelerate_argv(c, ["train", "resolved.yaml"])
    assert argv[2] == "accelerate.commands.launch" and "--multi_gpu" in argv
    assert argv[argv.index("--num_processes") + 1] == "4"  # accelerate counts processes over all machines
    assert (
        argv[argv.index("--machine_rank") + 1] == "1"
        and argv[argv.index("--main_process_ip") + 1] == "10.0.0.5"
    )
    assert argv[-4:] == ["-m", "thrifty", "train", "resolved.yaml"]


def record(code, message=None):
    return {"code": code, "message": message}


def test_one_exit_code_from_the_workers_records(capsys):
    assert combine({0: record(0), 1: record(0)}, 0, 2) == 0
    assert combine({0: record(EXIT_PREEMPTED), 1: record(EXIT_PREEMPTED)}, 0, 2) == EXIT_PREEMPTED
    assert combine({0: record(0), 1: record(2, "error: bad")}, 1, 2) == 2  # a user error wins
    assert "rank 1: error: bad" in capsys.readouterr().err  # said once, by the launching process
    assert combine({0: record(EXIT_PREEMPTED)}, -9, 2) == 1  # a rank died without a record
    assert "1 of 2 processes died" in capsys.readouterr().err
    assert combine({}, 1, 2) == 1


def test_a_checkpoint_from_before_the_distributed_section_resumes_without_a_difference():
    from thrifty.train.resume import config_differences

    current = load_config(None, []).model_dump(mode="json")
    saved = {k: v for k, v in current.items() if k != "distributed"}
    saved["train"] = {k: v for k, v in saved["train"].items() if k != "global_batch_size"}
    assert config_differences(saved, current) == []
