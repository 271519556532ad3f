"""What a criterion needs from the calibration rows, in one pass: gradients of the language-modelling
loss (taylor) or the squared input norms of down_proj and o_proj (wanda). Magnitude needs nothing."""

from typing import Any


def calibrate(model: Any, rows: list[dict[str, list[int]]], needs: str, batch_size: int, progress: bool):
    """Returns {module: squared input norm per input channel} for "activations"; leaves summed
    gradients in each parameter's .grad for "gradients"; does nothing for "weights"."""
    if needs == "weights":
        return {}
    import torch
    from tqdm import tqdm

    from thrifty.curate.score import batches_by_length, padded

    consumers = _consumers(model) if needs == "activations" else []
    sums: dict[Any, Any] = {}

    def hook(module, args):
        x = args[0].detach().float()
        flat = x[keep] if keep is not None else x.reshape(-1, x.shape[-1])
        sums[module] = sums.get(module, 0) + flat.pow(2).sum(dim=0)

    handles = [m.register_forward_pre_hook(hook) for m in consumers]
    device = next(model.parameters()).device
    model.eval()  # no dropout: the statistics are the model's own
    model.zero_grad(set_to_none=True)
    keep = None
    try:
        with tqdm(total=len(rows), desc=f"calibrate ({needs})", unit="row", disable=not progress) as bar:
            for batch in batches_by_length(rows, batch_size):
                ids, _, mask = padded([rows[i] for i in batch], 0, device)
                keep = mask.bool()
                if needs == "gradients":
                    labels = ids.masked_fill(~keep, -100)  # every real token: a plain LM loss
                    model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
                else:
                    with torch.inference_mode():
                        model(input_ids=ids, attention_mask=mask)
                bar.update(len(batch))
    finally:
        for handle in handles:
            handle.remove()
    return sums


def _consumers(model: Any) -> list[Any]:
    modules = []
    for block in model.model.layers:
        modules += [block.self_attn.o_proj, block.mlp.down_proj]
    return modules
