"""`data.order`: the order training reads its rows in. shuffle (the Trainer's seeded random sampler),
length (shortest first: less padding early, and short answers are easy), curriculum (easy to hard by the
base model's answer-token loss, scored once and cached). Non-shuffle orders are read sequentially, each
epoch the same; the order is stored in every checkpoint so a resume replays it even if the scores cache
is gone or the scoring is not bit-exact on another machine."""

import hashlib
import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from thrifty.curate import score

Rows = list[dict[str, list[int]]]
STATE_KEY = "data_order"  # in the checkpoint's extra state


def by_length(model, rows: Rows, fingerprint: str, progress: bool) -> list[int]:
    return sorted(range(len(rows)), key=lambda i: (len(rows[i]["input_ids"]), i))


def by_base_loss(model, rows: Rows, fingerprint: str, progress: bool) -> list[int]:
    """Lowest loss first; rows with nothing to score (NaN) last. A peft model is scored with its
    adapters off: the base model, not the freshly initialised prefix of prefix/prompt tuning."""
    disabled = getattr(model, "disable_adapter", None)
    with disabled() if disabled is not None else nullcontext():
        scored = score.cached_scores(
            score.FORWARD,
            fingerprint,
            rows,
            lambda todo: score.losses_and_hidden(model, todo, progress=progress),
        )
    losses = [loss for loss, _ in scored]
    return sorted(range(len(rows)), key=lambda i: (losses[i] != losses[i], losses[i], i))


ORDERS: dict[str, Callable[..., list[int]] | None] = {
    "shuffle": None,
    "length": by_length,
    "curriculum": by_base_loss,
}


def rows_digest(rows: Rows) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(row["input_ids"]).encode())
    return digest.hexdigest()[:24]


def ordered_rows(
    model, rows: Rows, order: str, saved: dict[str, Any], fingerprint: str, progress: bool = True
) -> tuple[Rows, dict[str, Any]]:
    """The rows in `order` and the state to checkpoint; a resume (`saved` holding the same order of the
    same rows) takes the stored indices without scoring again."""
    rank = ORDERS[order]
    if rank is None:
        return rows, {}
    digest = rows_digest(rows)
    stored = saved.get(STATE_KEY) or {}
    if stored.get("order") == order and stored.get("digest") == digest:
        indices = stored["indices"]
    else:
        indices = rank(model, rows, fingerprint, progress)
    state = {STATE_KEY: {"order": order, "digest": digest, "indices": indices}}
    return [rows[i] for i in indices], state
