"""`thrifty plan`: parameters, memory, FLOPs, time and dollars for one training setup, before paying."""

import math
from dataclasses import dataclass, field, replace
from typing import Any

from thrifty.config.schema import MethodConfig
from thrifty.errors import UserError
from thrifty.methods.table import method_info
from thrifty.plan import compute, cost
from thrifty.plan.architecture import ParamCounts, count_params, resolve_config
from thrifty.plan.catalog import find_gpu, gpus
from thrifty.plan.memory import MemorySettings, activation_profile, estimate_memory
from thrifty.plan.objective import ObjectiveCost, describe, objective_cost, profile_config

HEADROOM = 0.90  # a plan "fits" when peak memory stays under 90% of the device


@dataclass
class PlanRequest:
    model: str
    method: MethodConfig = field(default_factory=MethodConfig)
    seq_len: int = 512
    micro_batch: int = 4
    grad_accum: int = 1
    tokens: int = 10_000_000
    precision: str = "bf16"
    gradient_checkpointing: bool = False
    optimizer: str = "adamw"
    gpu: str | None = None  # fit to this GPU; None = rank every catalog GPU
    gpus: int = 1
    strategy: str = "ddp"
    offload: str = "none"  # none | optimizer | params: kept in CPU RAM under a sharded strategy
    device: str = "cuda"
    attention: str = "flash"  # flash (fused, GPUs) | sdpa | eager
    runs_dir: str = "runs"
    price_file: str | None = None
    revision: str | None = None  # hub revision of `model`, as training reads it
    trust_remote_code: bool = False  # read a config that names the model's own code (off unless asked)
    objective: str = "sft"  # what train.objective runs: see thrifty.plan.objective
    precompute_ref_logps: bool = False  # train.precompute_ref_logps: no reference copy for full/freeze
    num_generations: int = 4  # grpo: train.num_generations
    max_completion_length: int = 64  # grpo: train.max_completion_length
    chunked_loss: bool = True  # train.chunked_loss: sft computes its loss head chunked (or Liger's)

    def loss_chunked(self, model_type: str) -> bool:
        """Whether training computes this plan's loss head chunked: thrifty's own batches (sft), an
        architecture the chunked loss knows, and not turned off."""
        from thrifty.config.objectives import OBJECTIVES
        from thrifty.models.chunked_loss import CHUNKED_MODEL_TYPES

        thrifty_batches = self.objective == "sft" and OBJECTIVES[self.objective].head == "causal_lm"
        return self.chunked_loss and thrifty_batches and model_type in CHUNKED_MODEL_TYPES

    def objective_cost(self) -> ObjectiveCost:
        return objective_cost(
            self.objective,
            self.method.name,
            self.precompute_ref_logps,
            self.num_generations,
            self.max_completion_length,
        )

    def validate(self) -> None:
        names = ("seq_len", "micro_batch", "grad_accum", "tokens", "gpus", "max_completion_length")
        for name in names:
            if getattr(self, name) <= 0:
                raise UserError(f"--{name.replace('_', '-')} must be positive (got {getattr(self, name)})")
        if self.num_generations < 2:
            raise UserError(f"--num-generations must be at least 2 (got {self.num_generations})")
        if self.offload != "none":
            self._validate_offload()

    def _validate_offload(self) -> None:
        """The run config's own rules (which strategy offloads what), so a plan and a run agree."""
        from pydantic import ValidationError

        from thrifty.config.schema import DistributedConfig

        if self.device == "cpu":
            raise UserError("--offload moves state from a GPU to CPU RAM; a CPU plan has nothing to offload")
        try:
            DistributedConfig(strategy=self.strategy, offload=self.offload)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"].removeprefix("Value error, ")
            raise UserError(f"--strategy {self.strategy} --offload {self.offload}: {message}") from None


def parse_tokens(text: str) -> int:
    """'20M' -> 20_000_000; '1.5B', '300k', '5000' also work."""
    units = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
    text = str(text).strip().lower().replace("_", "").replace(",", "")
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise UserError(f"--tokens {text!r}: expected a number such as 20M, 1.5B or 300k") from None
    if value <= 0:
        raise UserError(f"--tokens must be positive (got {text})")
    return int(value)


def make_plan(req: PlanRequest) -> dict[str, Any]:
    req.validate()
    config = resolve_config(req.model, req.revision, req.trust_remote_code)
    counts = count_params(config, req.method)
    quant = method_info(req.method.name).quantization
    objective = req.objective_cost()
    seq_len = objective.seq_len(req.seq_len)  # grpo: prompt + completion
    # PyTorch's SDPA runs a fused (flash-style) kernel on CPUs too, so "flash" is right there as well.
    chunked = req.loss_chunked(getattr(config, "model_type", ""))
    profile = activation_profile(
        profile_config(config, objective), req.method, seq_len, req.precision, req.attention, chunked
    )
    settings = _settings(req, quant, config)
    memory = estimate_memory(config, counts, req.method, settings, profile)
    trained = objective.trained_tokens(req.tokens, req.seq_len)
    flops = compute.train_flops(
        config,
        counts.base,
        counts.trainable,
        req.method.variant,
        trained,
        seq_len,
        req.gradient_checkpointing,
    )
    extra = _objective_flops(req, objective, config, counts.base)
    flops += extra
    mfu, mfu_source = compute.calibrated_mfu(req.method.variant, req.device, req.runs_dir)

    def fits_on(gpu_key: str, count: int) -> bool:
        per_gpu = estimate_memory(
            config, counts, req.method, replace(settings, gpus=count, device="cuda"), profile
        )
        return per_gpu.total <= HEADROOM * gpus()[gpu_key]["memory_gib"] * 2**30

    plan: dict[str, Any] = {
        "model": req.model,
        "method": req.method.variant,
        "architecture": getattr(config, "model_type", "?"),
        "loss_head": "chunked" if chunked else "plain",
        "trainable_params": counts.trainable,
        "total_params": counts.total,
        "base_params": counts.base,
        "trainable_percent": 100 * counts.trainable / max(counts.total, 1),
        "peak_memory_bytes": memory.total,
        "memory": memory.as_dict(),
        "flops": flops,
        "tokens": req.tokens,
        "seq_len": req.seq_len,
        "micro_batch": req.micro_batch,
        "grad_accum": req.grad_accum,
        "precision": req.precision,
        "quantization": quant,
        "gradient_checkpointing": req.gradient_checkpointing,
        "gpus": req.gpus,  # peak_memory_bytes is per device under `strategy`
        "strategy": req.strategy,
        "offload": req.offload,  # memory.cpu_offload_bytes is what it keeps in CPU RAM, per device
        "mfu": mfu,
        "mfu_source": mfu_source,
        "options": cost.options(flops, req.precision, mfu, fits_on, req.price_file),
        "objective": describe(objective, req.tokens, req.seq_len, extra, memory.reference_weights),
    }
    if req.device == "cpu":
        plan["cpu_seconds"] = flops / (compute.cpu_peak_flops(req.precision) * mfu)
    if req.gpu:
        plan["fit"] = fit_to_gpu(req, config, counts, profile)
    return plan


def _objective_flops(req: PlanRequest, objective: ObjectiveCost, config, base_params: int) -> float:
    """No-grad forwards the objective adds: reference and KL passes over the trained tokens, and grpo's
    generation (one forward per generated token; see thrifty.plan.objective)."""
    seq_len = objective.seq_len(req.seq_len)
    passes = objective.forward_passes * objective.trained_tokens(req.tokens, req.seq_len)
    generated = objective.examples(req.tokens, req.seq_len) * objective.generated_tokens
    return compute.forward_flops(config, base_params, passes + generated, seq_len)


def _settings(req: PlanRequest, quant: str | None, config) -> MemorySettings:
    objective = req.objective_cost()
    return MemorySettings(
        objective=objective,
        micro_batch=req.micro_batch,
        seq_len=objective.seq_len(req.seq_len),
        precision=req.precision,
        gradient_checkpointing=req.gradient_checkpointing,
        optimizer=req.optimizer,
        quantization=quant,
        device=req.device,
        gpus=req.gpus,
        strategy=req.strategy,
        offload=req.offload,
        chunked_loss=req.loss_chunked(getattr(config, "model_type", "")),
    )


def fit_to_gpu(req: PlanRequest, config, counts: ParamCounts, profile) -> dict[str, Any]:
    """The fastest settings that fit `req.gpu` with 10% headroom, keeping the global batch."""
    gpu = find_gpu(req.gpu)
    limit = HEADROOM * gpu["memory_gib"] * 2**30
    global_batch = req.micro_batch * req.grad_accum
    candidates = []
    for micro in [m for m in (1, 2, 4, 8, 16, 32, 64) if m <= global_batch and global_batch % m == 0]:
        for ckpt in (False, True):
            for quant in _quant_choices(req.method):
                s = replace(
                    _settings(req, quant, config),
                    micro_batch=micro,
                    gradient_checkpointing=ckpt,
                    device="cuda",
                )
                mem = estimate_memory(config, counts, req.method, s, profile).total
                if mem <= limit:
                    # Bigger micro-batches use the GPU better; recomputation costs ~1/3 more compute;
                    # dequantizing a 4/8-bit base costs throughput too.
                    speed = min(1.0, 0.55 + 0.15 * math.log2(micro)) / (1.33 if ckpt else 1.0)
                    speed *= {None: 1.0, "int8": 0.5, "nf4": 0.7}[quant]
                    candidates.append(
                        {
                            "micro_batch": micro,
                            "grad_accum": global_batch // micro,
                            "gradient_checkpointing": ckpt,
                            "quantization": quant,
                            "peak_memory_bytes": mem,
                            "relative_speed": round(speed, 3),
                        }
                    )
    best = max(candidates, key=lambda c: (c["relative_speed"], c["micro_batch"]), default=None)
    result: dict[str, Any] = {
        "gpu": gpu["key"],
        "memory_bytes": int(gpu["memory_gib"] * 2**30),
        "fits": best is not None,
        "settings": best,
    }
    if best is None:
        result["suggestions"] = _suggestions(req, config, counts, profile)
    return result


def _quant_choices(method: MethodConfig) -> list[str | None]:
    """A plain LoRA-family method may also fit as its 8-bit or 4-bit variant; others as they are."""
    info = method_info(method.name)
    return [None, "int8", "nf4"] if info.low_rank and not info.quantization else [info.quantization]


def _suggestions(req: PlanRequest, config, counts: ParamCounts, profile) -> list[str]:
    out = []
    if method_info(req.method.name).trains_base != "none":
        out.append(
            "use LoRA or QLoRA (--method qlora): only the adapters need gradients and optimizer states"
        )
    elif req.method.name != "qlora":
        out.append("use QLoRA (--method qlora): a 4-bit base takes ~1/4 of bf16")
    if req.seq_len > 256:
        out.append(f"shorter sequences (--seq-len {req.seq_len // 2})")
    need = estimate_memory(
        config,
        counts,
        req.method,
        replace(
            _settings(req, method_info(req.method.name).quantization, config),
            micro_batch=1,
            gradient_checkpointing=True,
            device="cuda",
        ),
        profile,
    ).total
    bigger = sorted(
        (g["memory_gib"], k) for k, g in gpus().items() if g["memory_gib"] * 2**30 * HEADROOM >= need
    )
    if bigger:
        out.append(
            f"a bigger GPU: {bigger[0][1]} ({bigger[0][0]:g} GiB) fits micro-batch 1 with checkpointing"
        )
    out.append(
        "more GPUs with FSDP (--gpus N --strategy fsdp) to shard weights, gradients and optimizer states"
    )
    return out
