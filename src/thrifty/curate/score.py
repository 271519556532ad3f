"""How a model sees each example, for choosing data (`thrifty data select`) and ordering it
(`data.order: curriculum`): answer-token loss (labelled rows), predictive entropy of the model's own
greedy answer (unlabelled rows), and mean last-layer hidden states (for diversity).

Rows are tokenized as training tokenizes them ({input_ids, labels}, prompt positions -100). Batches go in
length order (less padding), results come back in row order. Every score is cached on disk per model
fingerprint and row content, so a second select, a curriculum resume or a bench repeat costs nothing.
"""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thrifty.data.tokenize import IGNORE_INDEX
from thrifty.io import write_json_atomic
from thrifty.paths import thrifty_home

CACHE_VERSION = 1  # bump when a score's definition changes
FORWARD = "forward"  # cache kind of losses_and_hidden: [loss, hidden] per row


def scores_cache_dir() -> Path:
    return thrifty_home() / "scores"


def model_fingerprint(path: str | Path) -> str:
    """Names the weights a score came from: the folder's config and weight files (name, size, mtime).
    A run folder's summary.json changes whenever it is trained again, so it is part of it."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        return str(path)  # a hub id or bundled name resolved elsewhere
    digest = hashlib.sha256(str(folder.resolve()).encode())
    for file in sorted(folder.rglob("*")):
        if file.suffix in (".json", ".safetensors", ".bin", ".yaml") and file.is_file():
            stat = file.stat()
            digest.update(f"{file.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def row_key(row: dict[str, list[int]]) -> str:
    return hashlib.sha256(json.dumps([row["input_ids"], row.get("labels")]).encode()).hexdigest()[:24]


def cached_scores(
    kind: str,
    fingerprint: str,
    rows: list[dict[str, list[int]]],
    compute: Callable[[list[dict[str, list[int]]]], list[Any]],
) -> list[Any]:
    """compute() only for rows the cache lacks; one JSON file per (kind, model) maps row keys to scores."""
    name = hashlib.sha256(f"{CACHE_VERSION}:{kind}:{fingerprint}".encode()).hexdigest()[:24]
    path = scores_cache_dir() / f"{kind}-{name}.json"
    cache = _load(path)
    keys = [row_key(r) for r in rows]
    missing = [i for i, k in enumerate(keys) if k not in cache]
    if missing:
        fresh = compute([rows[i] for i in missing])
        cache.update({keys[i]: value for i, value in zip(missing, fresh, strict=True)})
        _store(path, cache)
    return [cache[k] for k in keys]


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # missing or damaged (a killed writer): rebuilt
    return data if isinstance(data, dict) else {}


def _store(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, data, indent=None)


def batches_by_length(rows: list[dict[str, list[int]]], batch_size: int) -> list[list[int]]:
    """Row indices in batches of similar length (longest first: a memory error shows at once)."""
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]["input_ids"]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded(rows: list[dict[str, list[int]]], pad_id: int, device) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        if r.get("labels") is not None:  # a prompt row has none: every position stays -100 (prompt)
            labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return ids.to(device), labels.to(device), mask.to(device)


def _each_batch(model, rows, batch_size: int, desc: str, progress: bool, step) -> list[Any]:
    """step(ids, labels, mask) -> one value per row of the batch; values back in row order."""
    import torch
    from tqdm import tqdm

    device = next(model.parameters()).device
    pad_id = getattr(model.config, "pad_token_id", None) or 0
    out: list[Any] = [None] * len(rows)
    was_training = model.training
    model.eval()
    try:
        with (
            torch.inference_mode(),
            tqdm(total=len(rows), desc=desc, unit="row", disable=not progress) as bar,
        ):
            for batch in batches_by_length(rows, batch_size):
                values = step(*padded([rows[i] for i in batch], pad_id, device))
                for i, value in zip(batch, values, strict=True):
                    out[i] = value
                bar.update(len(batch))
    finally:
        model.train(was_training)
    return out


def losses_and_hidden(
    model, rows, batch_size: int = 8, progress: bool = True
) -> list[tuple[float, list[float]]]:
    """One forward per batch gives both, per row: the mean cross-entropy (nats/token) over its label
    tokens (NaN for a row with none), and its last-layer hidden state averaged over the prompt positions
    (labels -100), L2-normalised. Causal attention makes the prompt's hidden states the same with or
    without the answer after it, so a labelled and an unlabelled pool are embedded alike. Logits are
    computed only where a label is (the output head on those positions): no full-vocabulary logits over
    the prompt, which on CPU is most of the time."""
    import torch

    decoder, head = model.get_decoder(), model.get_output_embeddings()

    def step(ids, labels, mask):
        hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
        target = labels[:, 1:]
        scored = target != IGNORE_INDEX
        logits = head(hidden[:, :-1][scored]).float()
        per_token = torch.nn.functional.cross_entropy(logits, target[scored], reduction="none")
        row_of = scored.nonzero()[:, 0]
        total = torch.zeros(ids.shape[0]).index_add_(0, row_of.cpu(), per_token.cpu())
        counted = scored.sum(dim=1).cpu()
        prompt = ((labels == IGNORE_INDEX) & (mask == 1)).unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * prompt).sum(dim=1) / prompt.sum(dim=1).clamp(min=1)
        mean = torch.nn.functional.normalize(mean.float(), dim=-1).cpu().tolist()
        return [
            (float(t / c) if c else float("nan"), m) for t, c, m in zip(total, counted, mean, strict=True)
        ]

    return _each_batch(model, rows, batch_size, "score", progress, step)


def answer_losses(model, rows, batch_size: int = 8, progress: bool = True) -> list[float]:
    return [loss for loss, _ in losses_and_hidden(model, rows, batch_size, progress)]


def mean_hidden(model, rows, batch_size: int = 8, progress: bool = True) -> list[list[float]]:
    """Prompt rows (labels absent: every position is prompt): their mean hidden states."""
    return [hidden for _, hidden in losses_and_hidden(model, rows, batch_size, progress)]


def answer_entropies(
    model, tokenizer, prompt_rows, max_new_tokens: int = 32, batch_size: int = 8, progress: bool = True
) -> list[float]:
    """Mean entropy (nats) of the next-token distribution over the model's own greedy answer to each
    prompt: high where the model is unsure what to say. prompt_rows' input_ids end where the answer
    would start; generation stops at EOS (the entropies after it are not counted)."""
    import torch

    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or 0)

    def step(ids, labels, mask):
        # generate() wants left padding: move each row's tokens to the right edge.
        left = torch.full_like(ids, pad)
        left_mask = torch.zeros_like(mask)
        for i in range(ids.shape[0]):
            n = int(mask[i].sum())
            left[i, ids.shape[1] - n :] = ids[i, :n]
            left_mask[i, ids.shape[1] - n :] = 1
        out = model.generate(
            input_ids=left,
            attention_mask=left_mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=pad,
            eos_token_id=eos,
        )
        steps = torch.stack([s.float() for s in out.scores], dim=1)  # batch x new tokens x vocab
        logp = torch.log_softmax(steps, dim=-1)
        entropy = -(logp.exp() * logp).sum(dim=-1)
        new = out.sequences[:, left.shape[1] :]
        values = []
        for row, ent in zip(new.tolist(), entropy, strict=True):
            n = row.index(eos) + 1 if eos is not None and eos in row else len(row)
            values.append(float(ent[:n].mean()))
        return values

    return _each_batch(model, prompt_rows, batch_size, "entropy", progress, step)
