"""Build a model on the meta device (no weights, no download) and measure it exactly.

Parameters are counted on the real module tree that transformers + peft build, not by formula.
Activation memory is measured the same way: a forward pass on meta tensors under
`saved_tensors_hooks` records every tensor autograd keeps for the backward pass (shapes and
dtypes only; nothing is computed or allocated).
"""

import copy
from dataclasses import dataclass
from pathlib import Path

import torch

from thrifty.config.schema import MethodConfig
from thrifty.methods.table import method_info


@dataclass
class ParamCounts:
    total: int  # base + added parameters, each counted once (tied embeddings once)
    trainable: int
    base: int  # parameters of the unmodified model
    quantizable: int  # base parameters inside decoder nn.Linear layers (what 4/8-bit loading quantizes)


def resolve_config(model: str, revision: str | None = None, trust_remote_code: bool = False):
    """A transformers config from the planner catalog, a local folder, or the hub cache; `revision` and
    `trust_remote_code` as training reads them (code shipped with a model runs only when asked)."""
    from transformers import AutoConfig

    from thrifty.errors import UserError
    from thrifty.models.load import load_model_config
    from thrifty.plan.catalog import check_model, find_model

    path = Path(model).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return _remember_trust(load_model_config(str(path), None, trust_remote_code), trust_remote_code)
    entry = check_model(model)
    if entry is not None:
        fields = dict(entry["config"])
        return AutoConfig.for_model(fields.pop("model_type"), **fields)
    from thrifty.models.registry import bundled_models, cached_path, is_cached

    if model in bundled_models() and is_cached(model):
        return load_model_config(str(cached_path(model)))
    try:
        return _remember_trust(load_model_config(model, revision, trust_remote_code), trust_remote_code)
    except UserError:
        find_model(model, required=True)  # raises with the closest catalog names
        raise


# A config read with trust_remote_code=True names classes from the model's own code; building the model
# from it needs the same permission, so the config carries it to `from_config` below.
TRUST_ATTRIBUTE = "_thrifty_trust_remote_code"


def _remember_trust(config, trust_remote_code: bool):
    setattr(config, TRUST_ATTRIBUTE, trust_remote_code)
    return config


def from_config(config, **kwargs):
    from transformers import AutoModelForCausalLM

    trust = getattr(config, TRUST_ATTRIBUTE, False)
    return AutoModelForCausalLM.from_config(config, trust_remote_code=trust, **kwargs)


def build_meta_model(config, method: MethodConfig, dtype: torch.dtype = torch.float32):
    """The model as it would train, on the meta device."""
    with torch.device("meta"):
        model = from_config(config, dtype=dtype)
    return apply_method(model, method)


def apply_method(model, method: MethodConfig):
    """The trainer's own method code (thrifty.methods), so planned and trained counts are the same."""
    from thrifty.methods import apply_method as apply

    # On meta the base is never quantized: the k-bit methods' adapters are plain LoRA's.
    if method_info(method.name).quantization:
        method = method.model_copy(update={"name": "lora"})
    dtype = next(model.parameters()).dtype
    model = apply(model, method)
    # Adapters in the model's dtype: under mixed precision autocast runs them in bf16/fp16 anyway, and
    # fp32 adapters on a bf16 meta model would record fp32 copies that autocast never makes.
    for param in model.parameters():
        if param.dtype != dtype and param.is_floating_point():
            param.data = param.data.to(dtype)
    return model


def count_params(base_config, method: MethodConfig) -> ParamCounts:
    with torch.device("meta"):
        base = from_config(base_config)
    base_total = _unique_numel(base.parameters())
    head = base.get_output_embeddings()
    quantizable = sum(
        m.weight.numel() for m in base.modules() if isinstance(m, torch.nn.Linear) and m is not head
    )
    model = apply_method(base, method)
    if hasattr(model, "get_nb_trainable_parameters"):  # peft: includes virtual-token embeddings
        trainable, total = model.get_nb_trainable_parameters()
    else:
        params = list({id(p): p for p in model.parameters()}.values())
        total, trainable = sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
    return ParamCounts(
        total=int(total), trainable=int(trainable), base=int(base_total), quantizable=int(quantizable)
    )


def _unique_numel(params) -> int:
    return sum(p.numel() for p in {id(p): p for p in params}.values())


class _FlashLikeAttention(torch.autograd.Function):
    """Stands in for a fused (flash) attention kernel on meta tensors: saves what flash saves for
    backward (q, k, v, output and fp32 log-sum-exp per row), never the seq x seq score matrix."""

    @staticmethod
    def forward(ctx, query, key, value):
        out = torch.empty_like(query)
        lse = torch.empty(query.shape[:-1], dtype=torch.float32, device=query.device)
        ctx.save_for_backward(query, key, value, out, lse)
        return out

    @staticmethod
    def backward(ctx, grad):  # never run: planning only measures the forward pass
        raise NotImplementedError


def _flash_like_attention(module, query, key, value, attention_mask, **kwargs):
    out = _FlashLikeAttention.apply(query, key, value)
    return out.transpose(1, 2).contiguous(), None


def _register_flash_like() -> str:
    from transformers import AttentionInterface

    AttentionInterface.register("thrifty_fused_meta", _flash_like_attention)
    return "thrifty_fused_meta"


def saved_activation_bytes(
    base_config,
    method: MethodConfig,
    batch: int,
    seq_len: int,
    dtype: torch.dtype,
    attention: str = "sdpa",
    labels: bool = True,
) -> int:
    """Bytes autograd saves for backward in one forward pass with labels (logits and loss included);
    labels False: without the loss, so the logits (nothing keeps them) are left out.

    attention: "flash" (fused kernel, no seq^2 scores: GPUs), "sdpa" or "eager" (as PyTorch runs them).
    """
    config = copy.deepcopy(base_config)
    config._attn_implementation = _register_flash_like() if attention == "flash" else attention
    model = build_meta_model(config, method, dtype)
    model.train()
    if method_info(method.name).quantization:
        # bitsandbytes' 4/8-bit matmuls save their input for backward even though the weight is frozen,
        # as an ordinary trainable linear layer does: mark the base linears trainable to record that.
        head = model.get_output_embeddings()
        for module in model.modules():
            if (
                isinstance(module, torch.nn.Linear)
                and module is not head
                and module.weight.shape[0] > method.rank
            ):
                module.weight.requires_grad_(True)
    param_ids = {id(p) for p in model.parameters()}
    saved: dict[int, int] = {}
    held = []  # every counted tensor stays alive, so a freed one's id is never reused by a new one

    def pack(tensor):
        base = tensor._base if tensor._base is not None else tensor  # a view shares its base's memory
        if id(base) not in param_ids:
            saved[id(base)] = base.numel() * base.element_size()
            held.append(base)
        return tensor

    ids = torch.zeros(batch, seq_len, dtype=torch.long, device="meta")
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids if labels else None)
    return int(sum(saved.values()))
