"""Narrower blocks: fewer attention heads and fewer MLP channels, the same count in every block.

Which heads and channels go is decided per block by a criterion (prune/criteria/); how many is uniform,
because transformers' Llama-family configs and llama.cpp's loaders read one num_attention_heads,
num_key_value_heads and intermediate_size for all blocks (per-block sizes would need custom loading code).

Coupling is the architecture's fixed layout, written here rather than traced: a query head is q_proj's
rows and o_proj's columns of that head; a KV group adds k_proj's and v_proj's rows; an MLP channel is a
gate_proj row, an up_proj row and a down_proj column. (torch-pruning's DependencyGraph finds the MLP
coupling itself but did not finish tracing the attention of a 2-layer transformers 5 Llama in 10 minutes.)
torch-pruning's pruning functions do the surgery on each Linear.
"""

from dataclasses import dataclass
from typing import Any

from thrifty.errors import UserError
from thrifty.prune.criteria.registry import Criterion, Part

# Separate q/k/v/o and gate/up/down projections at block.self_attn / block.mlp (phi3 fuses them).
WIDTH_SUPPORTED = ("gemma", "gemma2", "llama", "mistral", "qwen2", "qwen3")
HEAD_GROUPS = ("within", "whole")  # drop query heads evenly inside each KV group, or whole KV groups


@dataclass
class HeadShape:
    heads: int
    kv_heads: int
    head_dim: int


def check_architecture(config: Any) -> None:
    kind = getattr(config, "model_type", None)
    if kind not in WIDTH_SUPPORTED:
        raise UserError(
            f"model type {kind!r} has no head/MLP pruning rule; supported: {', '.join(WIDTH_SUPPORTED)} "
            "(--layers works on more)"
        )


def check_ratio(flag: str, ratio: float | None) -> None:
    if ratio is not None and not 0 <= ratio < 1:
        raise UserError(f"{flag} {ratio}: a ratio is the share to remove, at least 0 and below 1")


def head_shape(config: Any) -> HeadShape:
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    return HeadShape(heads, kv, getattr(config, "head_dim", None) or config.hidden_size // heads)


def heads_to_drop(shape: HeadShape, ratio: float, groups: str) -> int:
    """Query heads (within) or KV groups (whole) to drop per KV group / per block."""
    per_group = shape.heads // shape.kv_heads
    units, name = (
        (per_group, "query heads per KV group") if groups == "within" else (shape.kv_heads, "KV groups")
    )
    if groups == "within" and per_group == 1:  # no GQA: each head is its own group
        units, name = shape.kv_heads, "heads"
    drop = round(ratio * units)
    if drop >= units:
        raise UserError(
            f"--heads {ratio}: removes all {units} {name} of every block; keep at least one (below {1 - 0.5 / units:.2f})"
        )
    if drop == 0:
        raise UserError(
            f"--heads {ratio}: removes no head ({units} {name}; the smallest step is {1 / units:.2f}); "
            "raise it or leave --heads out"
        )
    return drop


def mlp_keep(intermediate: int, ratio: float, multiple: int) -> int:
    """Channels kept per block: the nearest multiple of `multiple` (GGUF quantizes rows in blocks of
    32, K-quants 256; a ragged width falls back to a coarser type) when the width allows it."""
    step = multiple if intermediate % multiple == 0 and intermediate >= 4 * multiple else 1
    keep = max(step, round(intermediate * (1 - ratio) / step) * step)
    if keep >= intermediate:
        raise UserError(
            f"--mlp {ratio}: removes no channel of {intermediate} at multiples of {step}; raise it or leave it out"
        )
    return keep


def prune_heads(model: Any, ratio: float, groups: str, criterion: Criterion, norms: dict) -> HeadShape:
    import torch_pruning as tp

    shape = head_shape(model.config)
    drop = heads_to_drop(shape, ratio, groups)
    per_group = shape.heads // shape.kv_heads
    whole = groups == "whole" or per_group == 1
    for block in model.model.layers:
        attention = block.self_attn
        if whole:
            scores = criterion.score(_kv_group_parts(attention, shape, norms))
            gone = sorted(scores.argsort()[:drop].tolist())
            q_heads = [g * per_group + i for g in gone for i in range(per_group)]
            kv_channels = _channels(gone, shape.head_dim)
            tp.prune_linear_out_channels(attention.k_proj, kv_channels)
            tp.prune_linear_out_channels(attention.v_proj, kv_channels)
        else:
            scores = criterion.score(_query_head_parts(attention, shape, norms)).view(
                shape.kv_heads, per_group
            )
            lowest = scores.argsort(dim=1)[:, :drop]
            q_heads = sorted((g * per_group + int(i)) for g in range(shape.kv_heads) for i in lowest[g])
        channels = _channels(q_heads, shape.head_dim)
        tp.prune_linear_out_channels(attention.q_proj, channels)
        tp.prune_linear_in_channels(attention.o_proj, channels)
    new = HeadShape(
        shape.heads - (drop * per_group if whole else drop * shape.kv_heads),
        shape.kv_heads - drop if whole else shape.kv_heads,
        shape.head_dim,
    )
    _set_heads(model, new)
    return new


def prune_mlp(model: Any, ratio: float, multiple: int, criterion: Criterion, norms: dict) -> int:
    import torch_pruning as tp

    intermediate = model.config.intermediate_size
    keep = mlp_keep(intermediate, ratio, multiple)
    for block in model.model.layers:
        mlp = block.mlp
        parts = [_rows(mlp.gate_proj.weight), _rows(mlp.up_proj.weight), _columns(mlp.down_proj, norms)]
        gone = sorted(criterion.score(parts).argsort()[: intermediate - keep].tolist())
        tp.prune_linear_out_channels(mlp.gate_proj, gone)
        tp.prune_linear_out_channels(mlp.up_proj, gone)
        tp.prune_linear_in_channels(mlp.down_proj, gone)
        if hasattr(mlp, "intermediate_size"):
            mlp.intermediate_size = keep
    model.config.intermediate_size = keep
    return keep


def _channels(units: list[int], width: int) -> list[int]:
    return [u * width + c for u in units for c in range(width)]


def _rows(weight: Any, units: int | None = None) -> Part:
    """Rows of a producer (q/k/v/gate/up), `units` consecutive blocks of rows each."""
    units = units or weight.shape[0]
    grad = weight.grad.reshape(units, -1) if weight.grad is not None else None
    return Part(weight.detach().reshape(units, -1), grad)


def _columns(linear: Any, norms: dict, units: int | None = None) -> Part:
    """Columns of a consumer (o_proj, down_proj) grouped per unit, with each column's input norm."""
    weight = linear.weight.detach()  # (out, in)
    units = units or weight.shape[1]
    per = weight.shape[1] // units

    def by_unit(t):  # (out, in) -> (units, per * out): unit u's `per` input columns
        return t.t().reshape(units, per * t.shape[0])

    grad = by_unit(linear.weight.grad) if linear.weight.grad is not None else None
    norm = None
    if linear in norms:
        norm = (
            norms[linear].sqrt().reshape(units, per, 1).expand(units, per, weight.shape[0]).reshape(units, -1)
        )
    return Part(by_unit(weight), grad, norm)


def _query_head_parts(attention: Any, shape: HeadShape, norms: dict) -> list[Part]:
    return [_rows(attention.q_proj.weight, shape.heads), _columns(attention.o_proj, norms, shape.heads)]


def _kv_group_parts(attention: Any, shape: HeadShape, norms: dict) -> list[Part]:
    kv = shape.kv_heads
    return [
        _rows(attention.q_proj.weight, kv),
        _rows(attention.k_proj.weight, kv),
        _rows(attention.v_proj.weight, kv),
        _columns(attention.o_proj, norms, kv),
    ]


def _set_heads(model: Any, shape: HeadShape) -> None:
    """The config and each attention module agree on the new head counts; head_dim is written out
    because hidden_size // num_attention_heads no longer gives it."""
    config = model.config
    config.num_attention_heads, config.num_key_value_heads = shape.heads, shape.kv_heads
    config.head_dim = shape.head_dim
    for block in model.model.layers:
        attention = block.self_attn
        attention.num_key_value_groups = shape.heads // shape.kv_heads
        for name, value in (("num_heads", shape.heads), ("num_key_value_heads", shape.kv_heads)):
            if hasattr(attention, name):
                setattr(attention, name, value)
