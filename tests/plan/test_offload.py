"""Offload in the planner: what moves to CPU RAM leaves the per-GPU peak by exactly its bytes and is
reported as memory.cpu_offload_bytes; only the combinations a run accepts are planned."""

import json
from types import SimpleNamespace

import pytest

from thrifty.cli import main
from thrifty.config.schema import MethodConfig, RunConfig
from thrifty.plan.planner import PlanRequest, make_plan

MODEL = "smollm2-135m"


def memory(method="full", **kw) -> dict[str, int]:
    request = PlanRequest(model=MODEL, method=MethodConfig(name=method), seq_len=256, micro_batch=2, **kw)
    return make_plan(request)["memory"]


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("strategy", ["zero2", "zero3"])
def test_offload_optimizer_lowers_the_gpu_peak_by_the_optimizer_states(method, strategy):
    kept = memory(method, gpus=4, strategy=strategy, precision="fp32")
    moved = memory(method, gpus=4, strategy=strategy, precision="fp32", offload="optimizer")
    assert kept["cpu_offload_bytes"] == 0 and kept["optimizer"] > 0
    # fp32: the device's working copy is as big as the master copy, so exactly the optimizer states go.
    assert kept["total"] - moved["total"] == kept["optimizer"]
    assert moved["optimizer"] == 0 and moved["gradients"] == kept["gradients"]
    # DeepSpeed keeps the fp32 master copy with the optimizer states, in CPU RAM.
    assert moved["cpu_offload_bytes"] == kept["optimizer"] + kept["trainable_weights"]


def test_offload_optimizer_under_mixed_precision_keeps_a_bf16_working_copy():
    kept = memory(gpus=2, strategy="zero3")
    moved = memory(gpus=2, strategy="zero3", offload="optimizer")
    assert moved["trainable_weights"] == kept["trainable_weights"] // 2  # bf16 working copy on the GPU
    assert kept["total"] - moved["total"] == kept["optimizer"] + kept["trainable_weights"] // 2
    assert moved["cpu_offload_bytes"] == kept["optimizer"] + kept["trainable_weights"]


@pytest.mark.parametrize("strategy", ["zero3", "fsdp"])
def test_offload_params_moves_the_weights_too(strategy):
    kept = memory("lora", gpus=2, strategy=strategy)
    moved = memory("lora", gpus=2, strategy=strategy, offload="params")
    assert kept["weights"] > 0 and moved["weights"] == moved["trainable_weights"] == moved["optimizer"] == 0
    assert moved["activations"] == kept["activations"] and moved["gradients"] == kept["gradients"]
    on_gpu = kept["weights"] + kept["trainable_weights"] + kept["optimizer"]
    # ZeRO-3 also keeps a bf16 working copy of the trainable weights (in CPU RAM); FSDP's are the master.
    working = kept["trainable_weights"] // 2 if strategy == "zero3" else 0
    assert kept["total"] - moved["total"] == on_gpu
    assert moved["cpu_offload_bytes"] == on_gpu + working


def test_offload_is_per_device():
    two = memory(gpus=2, strategy="zero3", offload="optimizer")["cpu_offload_bytes"]
    four = memory(gpus=4, strategy="zero3", offload="optimizer")["cpu_offload_bytes"]
    assert four == pytest.approx(two / 2, abs=2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--offload", "optimizer"], "--strategy ddp --offload optimizer: offload=optimizer needs a sharded"),
        (["--strategy", "zero2", "--offload", "params"], "zero2 keeps parameters on the device"),
        (["--strategy", "fsdp", "--offload", "optimizer"], "FSDP offloads parameters and optimizer states"),
        (["--strategy", "zero3", "--offload", "params", "--cpu"], "a CPU plan has nothing to offload"),
    ],
)
def test_offload_without_a_strategy_that_offloads_is_one_line_exit_2(args, expected, capsys):
    assert main(["plan", "--model", MODEL, "--gpus", "2", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err, err


def test_cli_offload_reports_cpu_bytes(capsys):
    argv = ["plan", "--model", MODEL, "--method", "full", "--gpus", "2", "--strategy", "zero3", "--json"]
    assert main([*argv, "--offload", "optimizer"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["offload"] == "optimizer" and plan["memory"]["cpu_offload_bytes"] > 0
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["peak_memory_bytes"] > plan["peak_memory_bytes"]


@pytest.mark.parametrize(
    ("strategy", "offload", "planned"),
    [("zero3", "params", "params"), ("fsdp", "params", "params"), ("ddp", "params", "none")],
)
def test_a_run_is_planned_with_the_offload_its_strategy_applies(tiny_model, strategy, offload, planned):
    """`auto` may pick ddp for a config that asks for offload: the plan follows what training does
    (train.run passes plan_for_run the offload that applied_offload says the strategy applies)."""
    from thrifty.distributed.strategy import applied_offload
    from thrifty.plan.for_run import plan_for_run

    config = RunConfig.model_validate(
        {
            "model": {"name": str(tiny_model)},
            "distributed": {"nproc": 2, "strategy": "auto", "offload": offload},
        }
    )
    data = SimpleNamespace(train=[{"input_ids": [1] * 32}] * 8, lengths=lambda: [32] * 8)
    applied = applied_offload(strategy, offload)
    plan = plan_for_run(config, str(tiny_model), data, "bf16", "cuda", strategy, applied)
    assert plan["offload"] == planned
    assert (plan["memory"]["cpu_offload_bytes"] > 0) is (planned != "none")
    assert plan_for_run(config, str(tiny_model), data, "fp32", "cpu", strategy, applied)["offload"] == "none"
