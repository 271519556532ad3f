"""The strategy a launched run uses, the combinations refused before any process starts, and the
TrainingArguments each strategy needs, generated from the run config (no hand-kept JSON files).

ddp:   every device holds the whole model; gradients are averaged (accelerate's DDP).
fsdp:  FSDP2 (`fully_shard`): parameters, gradients and optimizer states sharded; decoder layers are
       the units (the model's own `_no_split_modules`), so a PEFT model wraps the same way.
zero2: DeepSpeed ZeRO stage 2, optimizer states and gradients sharded (optionally offloaded to CPU).
zero3: stage 3, parameters sharded too (optionally offloaded).
"""

import importlib.util
from collections.abc import Callable
from typing import Any

from thrifty.config.schema import RunConfig
from thrifty.errors import UserError

ZERO_STAGE = {"zero2": 2, "zero3": 3}
DEEPSPEED_EXTRA = "pip install 'thrifty[deepspeed]'"


def resolve(config: RunConfig) -> str:
    """The strategy the launch checks are made for; `auto` is checked as DDP, what it is unless the
    planner says the model does not fit one device (`choose`, in the workers)."""
    strategy = config.distributed.strategy
    return "ddp" if strategy == "auto" else strategy


def choose(
    config: RunConfig, plan_for: Callable[[str], dict[str, Any]], headroom: float = 0.9
) -> tuple[str, dict[str, Any]]:
    """The strategy and its per-device plan. `auto` asks the planner: DDP if its peak fits this device's
    memory, else the first of fsdp, zero3 (DeepSpeed installed) whose per-device peak fits, else fsdp.
    Every rank computes the same plan from the same inputs, so they all choose alike."""
    if config.distributed.world_size == 1:
        return "single", plan_for("ddp")
    if config.distributed.strategy != "auto":
        return config.distributed.strategy, plan_for(config.distributed.strategy)
    capacity = device_memory_bytes()
    candidates = ["ddp", "fsdp"] + (["zero3"] if importlib.util.find_spec("deepspeed") else [])
    plans = {}
    for name in candidates:
        plans[name] = plan_for(name)
        if capacity is None or plans[name]["peak_memory_bytes"] <= headroom * capacity:
            return name, plans[name]
    return "fsdp", plans["fsdp"]


def device_memory_bytes() -> int | None:
    """Memory of this process's GPU; None on a CPU (RAM is rarely what limits a CPU run)."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory


def check(config: RunConfig, strategy: str, device: str, visible_gpus: int) -> None:
    """One line, exit 2, for a combination that cannot work; called before the launcher starts."""
    from thrifty.methods import get_method

    d, method = config.distributed, get_method(config.method.name)
    if d.world_size == 1:
        return
    if device == "mps":
        raise UserError("distributed.nproc > 1 needs CUDA GPUs or a CPU; Apple MPS trains in one process")
    if device == "cuda" and d.nproc > visible_gpus:
        raise UserError(
            f"--nproc {d.nproc} asks for one GPU per process but {visible_gpus} are visible; pass --nproc "
            f"{visible_gpus} or fewer (CUDA_VISIBLE_DEVICES selects which)"
        )
    if device == "cpu" and d.offload != "none":
        raise UserError(
            "distributed.offload moves state to CPU RAM; this run is on the CPU already: unset it"
        )
    if strategy.startswith("zero") and importlib.util.find_spec("deepspeed") is None:
        raise UserError(f"distributed.strategy={strategy} needs DeepSpeed: {DEEPSPEED_EXTRA}")
    if method.quantization and strategy.startswith("zero"):
        raise UserError(
            f"{config.method.name} keeps a 4/8-bit base that DeepSpeed ZeRO cannot shard; use "
            "distributed.strategy=fsdp (FSDP-QLoRA) or ddp"
        )
    if method.quantization and device == "cpu":
        raise UserError(f"{config.method.name} under several processes needs CUDA GPUs; on a CPU use lora")
    if config.method.name in ("prefix", "prompt") and strategy in ("fsdp", "zero3"):
        raise UserError(
            f"{config.method.name} tuning's virtual-token encoder is not sharded by peft under {strategy}; "
            "use distributed.strategy=ddp (or zero2)"
        )
    if config.train.auto_micro_batch == "on":
        raise UserError(
            "train.auto_micro_batch=on searches on one device; under several processes set "
            "train.micro_batch_size yourself (auto turns the search off)"
        )


def applied_offload(strategy: str, offload: str) -> str:
    """What `distributed.offload` moves under `strategy`, as training_kwargs sets it up: DDP nothing,
    FSDP only everything at once (params), ZeRO-2 the optimizer, ZeRO-3 what it says. `auto` can pick
    a strategy the offload was not written for, so the planner is told what really happens."""
    if strategy == "fsdp":
        return "params" if offload == "params" else "none"
    if strategy == "zero2":
        return "none" if offload == "none" else "optimizer"
    return offload if strategy == "zero3" else "none"


def backend(config: RunConfig, device: str) -> str:
    chosen = config.distributed.backend
    return chosen if chosen != "auto" else ("nccl" if device == "cuda" else "gloo")


def training_kwargs(config: RunConfig, strategy: str, device: str) -> dict[str, Any]:
    """TrainingArguments for a launched run; empty for one process."""
    if config.distributed.world_size == 1:
        return {}
    kwargs: dict[str, Any] = {"ddp_backend": backend(config, device), "ddp_find_unused_parameters": False}
    if strategy == "fsdp":
        kwargs.update(fsdp=fsdp_option(config), fsdp_config=fsdp_config(config))
        # FSDP checkpoints activations itself (per wrapped layer); HF's flag would do it twice.
        kwargs["activation_checkpointing"] = False
    elif strategy in ZERO_STAGE:
        kwargs["deepspeed"] = deepspeed_config(config, strategy)
    return kwargs


def fsdp_option(config: RunConfig) -> str:
    return "full_shard auto_wrap" + (" offload" if config.distributed.offload == "params" else "")


def fsdp_config(config: RunConfig) -> dict[str, Any]:
    return {
        "version": 2,
        "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # the model's _no_split_modules (decoder layers)
        "reshard_after_forward": True,
        # Checkpoints hold each rank's shards (torch distributed checkpoint): no gather to one rank per save.
        "state_dict_type": "SHARDED_STATE_DICT",
        "activation_checkpointing": config.train.gradient_checkpointing,
        "cpu_ram_efficient_loading": False,
    }


def deepspeed_config(config: RunConfig, strategy: str) -> dict[str, Any]:
    """A DeepSpeed config for HF Trainer: "auto" values are filled in by the Trainer from its own
    arguments, so batch sizes, clipping and precision come from the run config, never from two places."""
    offload = config.distributed.offload
    zero: dict[str, Any] = {
        "stage": ZERO_STAGE[strategy],
        "overlap_comm": True,
        "contiguous_gradients": True,
        "reduce_bucket_size": "auto",
    }
    if offload in ("optimizer", "params"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if offload == "params":
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if strategy == "zero3":
        zero.update(
            stage3_prefetch_bucket_size="auto",
            stage3_param_persistence_threshold="auto",
            # The final save gathers full weights, so RUN/model and RUN/adapter load without DeepSpeed.
            stage3_gather_16bit_weights_on_model_save=True,
        )
    return {
        "zero_optimization": zero,
        "bf16": {"enabled": "auto"},
        "fp16": {"enabled": "auto"},
        "train_micro_batch_size_per_gpu": "auto",
        "train_batch_size": "auto",
        "gradient_accumulation_steps": "auto",
        "gradient_clipping": "auto",
        # The Trainer's own torch AdamW on offloaded states, so no DeepSpeed op has to compile first.
        "zero_force_ds_cpu_optimizer": False,
    }
