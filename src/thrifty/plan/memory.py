"""Peak training memory per device, as a breakdown in bytes.

weights + trainable master copies + gradients + optimizer states + saved activations
+ the backward pass's loss transient + framework overhead, divided across GPUs by the
distribution strategy. Activations come from meta-device measurement (architecture.py); what the
training objective adds (two sequences per pair, a reference copy) comes from plan/objective.py.
"""

import copy
from dataclasses import asdict, dataclass, field, replace

import torch

from thrifty.config.schema import MethodConfig
from thrifty.methods.table import method_info
from thrifty.models.chunked_loss import chunk_tokens
from thrifty.plan.architecture import ParamCounts, saved_activation_bytes
from thrifty.plan.objective import ObjectiveCost, objective_memory

COMPUTE_BYTES = {"fp32": 4, "bf16": 2, "bf16-base": 2, "fp16": 2}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "bf16-base": torch.bfloat16, "fp16": torch.float16}
# Bytes per quantized weight. NF4: 4 bits + one absmax per 64 weights; double quantization stores
# that absmax in 8 bits plus an fp32 constant per 256 blocks: 0.5 + 1/64 + 4/(64*256) bytes.
QUANT_BYTES = {"nf4": 0.5 + 1 / 64 + 4 / (64 * 256), "int8": 1.0 + 4 / 4096}
OPTIMIZER_BYTES = {"adamw": 8, "adamw8bit": 2, "paged_adamw8bit": 2, "sgd": 4, "sgd_nomomentum": 0}
CUDA_OVERHEAD = 600 * 2**20  # CUDA context + cuBLAS workspace, bytes (typical, driver-dependent)
# CPU constants fitted on this machine by bench/plan_accuracy.py (docs/planning.md), not derived:
# - the first forward/backward loads kernels, autograd and oneDNN state: ~235 MiB of RSS;
# - glibc keeps freed blocks and backward holds activation gradients beside the saved tensors:
#   with adapters (LoRA family) peak RSS grows ~1.6x the bytes autograd saves, without them
#   (full, freeze) ~1.0x;
# - with gradient checkpointing the RSS after the forward pass was still 43% of the
#   non-checkpointed one (1560 vs 3639 MiB, SmolLM2 LoRA b8 s128), far above the layer inputs alone.
CPU_OVERHEAD = 235 * 2**20
CPU_ACTIVATION_FACTOR = {"adapters": 1.6, "no_adapters": 1.0}
CPU_CHECKPOINT_SHARE = 0.45
CUDA_ACTIVATION_FACTOR = 1.1  # caching-allocator fragmentation


@dataclass
class MemorySettings:
    micro_batch: int = 4
    seq_len: int = 512
    precision: str = "bf16"  # compute dtype
    gradient_checkpointing: bool = False
    optimizer: str = "adamw"
    quantization: str | None = None  # None | "nf4" | "int8" for the frozen base
    device: str = "cuda"  # cuda | cpu
    gpus: int = 1
    strategy: str = "ddp"  # ddp | fsdp | zero2 | zero3
    offload: str = "none"  # none | optimizer | params: states kept in CPU RAM (ZeRO-Offload, FSDP offload)
    objective: ObjectiveCost = field(default_factory=ObjectiveCost)  # what the objective runs per step
    # The loss head as training computes it: chunked (thrifty's, or Liger's on CUDA) builds no
    # tokens x vocab logits; plain is the model's own head and cross-entropy (TRL's objectives).
    chunked_loss: bool = False


@dataclass
class MemoryBreakdown:
    weights: int
    trainable_weights: int
    gradients: int
    optimizer: int
    activations: int
    loss_transient: int
    overhead: int
    reference_weights: int = 0  # a frozen reference copy (full/freeze with dpo, kto, grpo)
    cpu_offload_bytes: int = 0  # per device, in CPU RAM, not part of `total`

    @property
    def total(self) -> int:
        """Peak, not the sum: backward frees each layer's saved activations as it creates that layer's
        weight gradients (set_to_none between steps), so the two never peak together."""
        static = (
            self.weights + self.reference_weights + self.trainable_weights + self.optimizer + self.overhead
        )
        return static + max(self.gradients, self.activations + self.loss_transient)

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "total": self.total}


def activation_profile(
    config,
    method: MethodConfig,
    seq_len: int,
    precision: str,
    attention: str = "sdpa",
    chunked_loss: bool = False,
) -> tuple[int, int]:
    """(bytes per decoder layer, bytes outside the layers) saved for one sequence of `seq_len` tokens;
    chunked_loss: without the plain loss's logits (estimate_memory adds what the chunked loss keeps)."""
    dtype = DTYPES[precision]
    # freeze on the 1- and 2-layer copies: at most as many trainable layers as the copy has.
    one, two = (
        saved_activation_bytes(
            _with_layers(config, n),
            method.model_copy(update={"trainable_layers": min(method.trainable_layers, n)}),
            1,
            seq_len,
            dtype,
            attention,
            labels=not chunked_loss,
        )
        for n in (1, 2)
    )
    return two - one, one - (two - one)


def _with_layers(config, n: int):
    small = copy.deepcopy(config)
    small.num_hidden_layers = n
    if isinstance(getattr(small, "layer_types", None), list):
        small.layer_types = small.layer_types[:n]
    return small


def estimate_memory(
    config,
    counts: ParamCounts,
    method: MethodConfig,
    s: MemorySettings,
    profile: tuple[int, int] | None = None,
) -> MemoryBreakdown:
    per_layer, outside = profile or activation_profile(config, method, s.seq_len, s.precision)
    layers = config.num_hidden_layers
    compute = COMPUTE_BYTES[s.precision]
    # thrifty loads fp32 on CPUs and autocasts, unless the frozen base is stored in bf16 (bf16-base)
    frozen_dtype = 4 if s.device == "cpu" and s.precision != "bf16-base" else compute
    trains_base = method_info(method.name).trains_base
    trainable_in_base = {"all": counts.base, "some": counts.trainable, "none": 0}[trains_base]
    frozen = counts.base - trainable_in_base
    if s.quantization:
        quantized = min(counts.quantizable, frozen)
        # Embeddings, norms and the head stay unquantized: bf16 on GPUs, fp32 as thrifty loads on CPUs.
        weights = int(
            quantized * QUANT_BYTES[s.quantization] + (frozen - quantized) * (4 if s.device == "cpu" else 2)
        )
    else:
        weights = frozen * frozen_dtype
    trainable_weights = counts.trainable * 4  # fp32 master copy, also under mixed precision
    gradients = counts.trainable * 4
    optimizer = counts.trainable * OPTIMIZER_BYTES[s.optimizer]
    full = (outside + per_layer * layers) * s.micro_batch
    activations = full
    if s.gradient_checkpointing:
        # Only each layer's input survives the forward; one layer is recomputed at a time in backward.
        layer_inputs = layers * s.seq_len * config.hidden_size * compute
        activations = (outside + layer_inputs + per_layer) * s.micro_batch
        if s.device == "cpu":
            activations = max(activations, CPU_CHECKPOINT_SHARE * full)
    adapters = "adapters" if method_info(method.name).adapter else "no_adapters"
    factor = CPU_ACTIVATION_FACTOR[adapters] if s.device == "cpu" else CUDA_ACTIVATION_FACTOR
    activations = int(activations * factor)
    if s.chunked_loss:
        activations += chunked_loss_saved(config, s, trains_base == "all")
        loss_transient = chunked_loss_transient(config.vocab_size, s.micro_batch * s.seq_len)
    else:
        loss_transient = s.micro_batch * s.seq_len * config.vocab_size * 4  # fp32 gradient of the logits
    activations, loss_transient, reference = objective_memory(
        s.objective, activations, loss_transient, counts.base, frozen_dtype
    )
    shard = _shard(s)
    on_device = MemoryBreakdown(
        weights=int(weights / shard["weights"]),
        trainable_weights=int(trainable_weights / shard["weights"]),
        gradients=int(gradients / shard["grads"]),
        optimizer=int(optimizer / shard["optimizer"]),
        activations=activations,
        loss_transient=loss_transient,
        overhead=CUDA_OVERHEAD if s.device == "cuda" else CPU_OVERHEAD,
        reference_weights=int(reference / shard["weights"]),
    )
    return offloaded(on_device, s)


def chunked_loss_saved(config, s: MemorySettings, head_trains: bool) -> int:
    """What the chunked loss keeps for backward (models/chunked_loss.py): the hidden states' gradient
    (tokens x hidden, compute dtype) and, when the head trains, its weight's gradient in fp32."""
    tokens = s.micro_batch * s.seq_len
    kept = tokens * config.hidden_size * COMPUTE_BYTES[s.precision]
    return kept + (config.vocab_size * config.hidden_size * 4 if head_trains else 0)


def chunked_loss_transient(vocab_size: int, tokens: int) -> int:
    """One chunk's fp32 logits, turned into their gradient in place, beside the log-sum-exp and the
    cast or softcap temporaries: two chunk x vocab fp32 buffers at most."""
    return 2 * min(tokens, chunk_tokens(vocab_size)) * vocab_size * 4


def offloaded(b: MemoryBreakdown, s: MemorySettings) -> MemoryBreakdown:
    """Move what `s.offload` keeps in CPU RAM out of the per-device peak into `cpu_offload_bytes` (both
    per device, bytes). optimizer: the optimizer states; under ZeRO also the fp32 master copy, which
    DeepSpeed keeps beside them, so the device holds a working copy in the compute dtype. params: the
    weights too (FSDP's parameters are their own master copy). Gradients stay counted on the device:
    each one is made there before it is reduced and moved, so this errs on the side of fitting less."""
    if s.offload == "none":
        return b
    on_cpu = b.optimizer
    working = b.trainable_weights
    if s.strategy in ("zero2", "zero3"):
        working = b.trainable_weights * COMPUTE_BYTES[s.precision] // 4
        on_cpu += b.trainable_weights
    if s.offload == "params":
        on_cpu += b.weights + working
        return replace(b, weights=0, trainable_weights=0, optimizer=0, cpu_offload_bytes=on_cpu)
    return replace(b, trainable_weights=working, optimizer=0, cpu_offload_bytes=on_cpu)


def _shard(s: MemorySettings) -> dict[str, int]:
    """How many ways each state is divided across GPUs under the distribution strategy."""
    n = max(1, s.gpus)
    if s.strategy in ("fsdp", "zero3"):
        return {"weights": n, "grads": n, "optimizer": n}
    if s.strategy == "zero2":
        return {"weights": 1, "grads": n, "optimizer": n}
    return {"weights": 1, "grads": 1, "optimizer": 1}  # DDP replicates everything
