"""Padding-free packing: a micro-batch becomes one row with no padding at all.

transformers' `DataCollatorWithFlattening` concatenates the examples, restarts `position_ids` at 0 for
each one and puts -100 on every example's first label, so no token learns to predict across a boundary.
With no attention mask, transformers' masking utilities read the restarting position ids and build a
block-diagonal causal mask (SDPA and eager), so every example attends only to itself: the loss of
each example is the one it would have alone, and no FLOP is spent on padding.

On top of that, `learned_logits_only` asks the model for logits only where a label is learned (via the
model's own `logits_to_keep` boolean mask) and hands the loss the matching `shift_labels`: prompt tokens
never touch the 49k-wide output head (SmolLM2: ~40% of tokens are prompt), which saves the head's
matmuls and its [tokens x vocab] fp32 logits in both passes.
"""

from typing import Any

import torch
from transformers import DataCollatorWithFlattening

from thrifty.data.tokenize import IGNORE_INDEX


class PackCollator:
    """Rows of {input_ids, labels} -> {input_ids, position_ids, labels} of shape [1, total tokens],
    plus {logits_to_keep, shift_labels} when `learned_logits_only`."""

    def __init__(self, learned_logits_only: bool = True):
        self.flatten = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX)
        self.learned_logits_only = learned_logits_only

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = self.flatten([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
        # With a KV cache the masking utilities skip packed-sequence detection and examples would see
        # each other; training needs no cache anyway.
        batch["use_cache"] = False
        if self.learned_logits_only:
            # Position t predicts the label at t+1; the last position of the row predicts nothing.
            shifted = torch.cat([batch["labels"][:, 1:], torch.full((1, 1), IGNORE_INDEX)], dim=1)
            keep = shifted != IGNORE_INDEX
            batch["logits_to_keep"] = keep
            batch["shift_labels"] = shifted[keep]
        return batch


def padding_share(lengths: list[int], batch_sizes: list[int], padded_to: int | None = None) -> float:
    """Share of computed positions that are padding when `lengths` are batched in order in groups of
    `batch_sizes`, each padded to its longest (or to `padded_to`). Packing makes it 0."""
    real = computed = 0
    start = 0
    for size in batch_sizes:
        group = lengths[start : start + size]
        start += size
        if not group:
            break
        real += sum(group)
        computed += len(group) * (padded_to or max(group))
    return 1.0 - real / computed if computed else 0.0
