"""Whole decoder blocks: which matter least on calibration data, and the model without them.

Importance is ShortGPT's Block Influence (Men et al. 2024): 1 − cos(h_in, h_out) of a block's input and
output hidden states, averaged over the calibration tokens. A block whose output is nearly its input
changes little and goes first. Measured on the unpruned model in one pass (all blocks at once), which is
what the paper does; removing blocks one at a time and remeasuring is slower and not done here.
"""

from typing import Any

from thrifty.errors import UserError

# The architectures whose decoder blocks are a plain ModuleList at model.model.layers with a per-layer
# attention index (and, in newer configs, per-layer `layer_types`).
SUPPORTED = ("gemma", "gemma2", "llama", "mistral", "phi3", "qwen2", "qwen3")


def check_architecture(config: Any) -> None:
    kind = getattr(config, "model_type", None)
    if kind not in SUPPORTED:
        raise UserError(f"model type {kind!r} has no block-pruning rule; supported: {', '.join(SUPPORTED)}")


def decoder_blocks(model: Any):
    check_architecture(model.config)
    return model.model.layers


def block_influence(model: Any, rows: list[dict[str, list[int]]], batch_size: int = 8, progress: bool = True):
    """Per block, mean over calibration tokens of 1 − cos(input, output) (0: the block changes nothing).
    Hooks read each block's own input and output (output_hidden_states would give the last block's output
    after the final norm, not the block's)."""
    import torch
    from tqdm import tqdm

    from thrifty.curate.score import batches_by_length, padded

    layers = decoder_blocks(model)
    totals, count = torch.zeros(len(layers), dtype=torch.float64), 0
    seen: dict[int, Any] = {}
    keep = None

    def record(index):
        def hook(module, args, kwargs, output):
            given = args[0] if args else kwargs["hidden_states"]
            out = output[0] if isinstance(output, tuple) else output
            cos = torch.nn.functional.cosine_similarity(given[keep].float(), out[keep].float(), dim=-1)
            seen[index] = (1 - cos).double().sum().cpu()

        return hook

    handles = [block.register_forward_hook(record(i), with_kwargs=True) for i, block in enumerate(layers)]
    device = next(model.parameters()).device
    model.eval()
    try:
        with (
            torch.inference_mode(),
            tqdm(total=len(rows), desc="importance", unit="row", disable=not progress) as bar,
        ):
            for batch in batches_by_length(rows, batch_size):
                ids, _, mask = padded([rows[i] for i in batch], 0, device)
                keep = mask.bool()
                model(input_ids=ids, attention_mask=mask)
                for i, value in seen.items():
                    totals[i] += value
                count += int(keep.sum())
                bar.update(len(batch))
    finally:
        for handle in handles:
            handle.remove()
    return (totals / max(count, 1)).tolist()


def drop_blocks(model: Any, drop: list[int]) -> None:
    """Remove blocks `drop` in place and renumber what is left, so the config and the cache indices agree."""
    import torch

    gone = set(drop)
    kept = [block for i, block in enumerate(decoder_blocks(model)) if i not in gone]
    model.model.layers = torch.nn.ModuleList(kept)
    for index, block in enumerate(kept):
        attention = getattr(block, "self_attn", None)
        if attention is not None and hasattr(attention, "layer_idx"):
            attention.layer_idx = index
    config = model.config
    if getattr(config, "layer_types", None):
        config.layer_types = [t for i, t in enumerate(config.layer_types) if i not in gone]
    config.num_hidden_layers = len(kept)
