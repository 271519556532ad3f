"""The DeepSpeed configs thrifty generates, filled in by HF Trainer exactly as a launched run fills them
(TrainingArguments from thrifty.train.trainer, then the model-dependent "auto" sizes) and checked by
DeepSpeed's own parser (DeepSpeedConfig), inside a real 2-process gloo group so the world size is real:
stage, offload devices, precision and batch sizes must come out as the run config says."""

import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import save_tiny_model
from thrifty.config.schema import RunConfig

CASES = {
    "zero2": ("zero2", "none"),
    "zero2-offload-optimizer": ("zero2", "optimizer"),
    "zero3": ("zero3", "none"),
    "zero3-offload-optimizer": ("zero3", "optimizer"),
    "zero3-offload-params": ("zero3", "params"),
}
MICRO, ACCUM, WORLD = 2, 3, 2


def run_config(strategy: str, offload: str) -> RunConfig:
    return RunConfig.model_validate(
        {
            "train": {"micro_batch_size": MICRO, "gradient_accumulation_steps": ACCUM, "max_grad_norm": 0.5},
            "distributed": {"nproc": WORLD, "strategy": strategy, "offload": offload},
        }
    )


def _worker(rank: int, port: int, model_dir: str, out_dir: str) -> None:
    """One rank: every case's TrainingArguments, filled and parsed by DeepSpeed; rank 0 writes the result."""
    env = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": WORLD, "LOCAL_WORLD_SIZE": WORLD}
    os.environ.update({k: str(v) for k, v in env.items()}, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import deepspeed
    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import AutoModelForCausalLM

    from thrifty.train.trainer import training_arguments

    deepspeed.init_distributed(dist_backend="gloo")  # what deepspeed.initialize does first in training
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    results = {}
    for name, (strategy, offload) in CASES.items():
        args = training_arguments(run_config(strategy, offload), "bf16", Path(out_dir) / name, strategy)
        hf_config = args.hf_deepspeed_config  # TrainingArguments filled the batch/precision "auto"s
        hf_config.trainer_config_finalize(args, model, num_training_steps=4)
        filled = hf_config.config
        parsed = DeepSpeedConfig(filled)  # the world size comes from the live process group
        zero = parsed.zero_config
        results[name] = {
            "autos_left": [k for k, v in _leaves(filled) if v == "auto"],
            "world_size": parsed.world_size,
            "stage": zero.stage,
            "offload_optimizer": _device(zero.offload_optimizer),
            "offload_param": _device(zero.offload_param),
            "train_batch_size": parsed.train_batch_size,
            "micro": parsed.train_micro_batch_size_per_gpu,
            "accumulation": parsed.gradient_accumulation_steps,
            "clipping": parsed.gradient_clipping,
            "bf16": parsed.bfloat16_config.enabled,
            "fp16": parsed.float16_config.enabled,
            "gather_on_save": zero.gather_16bit_weights_on_model_save,
        }
    if rank == 0:
        (Path(out_dir) / "results.json").write_text(json.dumps(results))


def _device(offload) -> str | None:
    """The device of a parsed offload section ("cpu", "nvme", "none"); None when the section is absent."""
    return None if offload is None else str(getattr(offload.device, "value", offload.device))


def _leaves(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield prefix + key, value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def parsed(tmp_path_factory) -> dict:
    """All cases in one 2-process job (one start-up, ~15 s), on the CPU whatever the machine has."""
    import torch.multiprocessing as mp

    tmp = tmp_path_factory.mktemp("deepspeed-config")
    model = save_tiny_model(tmp / "model")
    with pytest.MonkeyPatch.context() as mp_env:
        mp_env.setenv("CUDA_VISIBLE_DEVICES", "")  # children inherit it before they import torch
        mp_env.setenv("DS_ACCELERATOR", "cpu")
        mp.spawn(_worker, args=(_free_port(), str(model), str(tmp)), nprocs=WORLD, join=True)
    return json.loads((tmp / "results.json").read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_deepspeed_accepts_the_filled_config(parsed, name):
    strategy, offload = CASES[name]
    got = parsed[name]
    assert got["autos_left"] == []  # nothing left for DeepSpeed to guess
    assert got["world_size"] == WORLD
    assert got["stage"] == {"zero2": 2, "zero3": 3}[strategy]
    assert got["offload_optimizer"] == (None if offload == "none" else "cpu")
    assert got["offload_param"] == ("cpu" if offload == "params" else None)
    assert (got["micro"], got["accumulation"]) == (MICRO, ACCUM)
    assert got["train_batch_size"] == MICRO * ACCUM * WORLD
    assert got["clipping"] == 0.5
    assert (got["bf16"], got["fp16"]) == (True, False)
    # ZeRO-3 gathers whole weights for the final save, so RUN/adapter loads without DeepSpeed.
    assert got["gather_on_save"] is (strategy == "zero3")
