"""Perplexity on held-out examples: the same label mask as training (answers only, unless the run trained
on inputs), averaged per token over the whole set."""

import math
from typing import Any

import torch

from thrifty.data.collate import PadCollator
from thrifty.data.tokenize import IGNORE_INDEX
from thrifty.inference.device import to_model_device


def perplexity(model: Any, rows: list[dict[str, list[int]]], pad_token_id: int, batch_size: int = 8) -> dict:
    """{"loss": mean negative log-likelihood per learned token (nats), "perplexity": exp(loss), "tokens"}."""
    collate = PadCollator(pad_token_id)
    total_nll, total_tokens = 0.0, 0
    # Longest first: the first batch shows at once whether memory suffices; similar lengths pad less.
    ordered = sorted(rows, key=lambda r: -len(r["input_ids"]))
    with torch.inference_mode():
        for start in range(0, len(ordered), batch_size):
            batch = to_model_device(collate(ordered[start : start + batch_size]), model)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            # Position t predicts token t+1.
            shift_logits = logits[:, :-1].float()
            shift_labels = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(
                shift_logits.reshape(-1, shift_logits.size(-1)),
                shift_labels.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            total_nll += float(nll)
            total_tokens += int((shift_labels != IGNORE_INDEX).sum())
    loss = total_nll / max(total_tokens, 1)
    return {"loss": loss, "perplexity": loss_to_perplexity(loss), "tokens": total_tokens}


def loss_to_perplexity(loss: float) -> float:
    """exp(loss), with losses past 50 nats (a diverged model) reported as inf instead of overflowing."""
    return math.exp(loss) if loss < 50 else float("inf")
