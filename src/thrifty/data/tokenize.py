"""Tokenize canonical examples into input_ids + labels (prompt positions masked with -100), with a disk cache."""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thrifty.data.template import render_with_spans, with_system
from thrifty.errors import UserError
from thrifty.io import write_json_atomic
from thrifty.paths import tokenized_cache_dir

IGNORE_INDEX = -100  # label value the cross-entropy loss skips
CACHE_VERSION = 1  # bump when the encoding below changes, so old caches are not reused


@dataclass
class EncodeStats:
    examples: int = 0
    truncated: int = 0  # longer than max_seq_len, cut at the end
    dropped: int = 0  # nothing left to learn after truncation
    tokens: int = 0  # input tokens kept, no padding
    label_tokens: int = 0  # tokens the loss is computed on

    def add(self, other: "EncodeStats") -> None:
        for field in self.__dataclass_fields__:
            setattr(self, field, getattr(self, field) + getattr(other, field))


def encode_example(
    example: dict[str, Any],
    tokenizer: Any,
    max_seq_len: int,
    train_on_inputs: bool,
    system_prompt: str | None = None,
) -> tuple[dict[str, list[int]], bool]:
    """One canonical example -> ({input_ids, labels}, truncated?)."""
    if "text" in example:
        text, spans, special = example["text"] + (tokenizer.eos_token or ""), None, True
    else:
        text, spans = render_with_spans(with_system(example["messages"], system_prompt), tokenizer)
        special = not tokenizer.chat_template  # chat templates already contain their BOS
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(
            "this model has only a slow (Python) tokenizer; thrifty needs a fast tokenizer for label masks"
        )
    enc = tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
    ids = enc["input_ids"]
    if spans is None or train_on_inputs:
        labels = list(ids)
    else:
        labels = [
            tok if any(s <= start < e for s, e in spans) else IGNORE_INDEX
            for tok, (start, _end) in zip(ids, enc["offset_mapping"], strict=True)
        ]
    truncated = len(ids) > max_seq_len
    return {"input_ids": ids[:max_seq_len], "labels": labels[:max_seq_len]}, truncated


def template_overhead(tokenizer: Any, system_prompt: str | None) -> int:
    """Tokens the template takes around an empty question and answer."""
    messages = with_system(
        [{"role": "user", "content": ""}, {"role": "assistant", "content": ""}], system_prompt
    )
    text, _ = render_with_spans(messages, tokenizer)
    return len(tokenizer(text, add_special_tokens=not tokenizer.chat_template)["input_ids"])


def check_max_seq_len(tokenizer: Any, max_seq_len: int, system_prompt: str | None) -> None:
    overhead = template_overhead(tokenizer, system_prompt)
    if max_seq_len <= overhead:
        raise UserError(
            f"data.max_seq_len={max_seq_len} is too small: the prompt template alone takes {overhead} tokens; "
            f"use at least {overhead + 32}"
        )


def encode_all(
    examples: list[dict[str, Any]],
    tokenizer: Any,
    max_seq_len: int,
    train_on_inputs: bool,
    system_prompt: str | None,
) -> tuple[list[dict[str, list[int]]], EncodeStats]:
    rows, stats = [], EncodeStats()
    for example in examples:
        row, truncated = encode_example(example, tokenizer, max_seq_len, train_on_inputs, system_prompt)
        stats.examples += 1
        stats.truncated += truncated
        learnable = sum(label != IGNORE_INDEX for label in row["labels"])
        if learnable == 0:
            stats.dropped += 1
            continue
        stats.tokens += len(row["input_ids"])
        stats.label_tokens += learnable
        rows.append(row)
    return rows, stats


def cache_key(
    examples: list[dict[str, Any]],
    tokenizer: Any,
    max_seq_len: int,
    train_on_inputs: bool,
    system_prompt: str | None,
) -> str:
    """Same data, tokenizer, template and length -> same key (sha256)."""
    digest = hashlib.sha256()
    settings = [
        CACHE_VERSION,
        max_seq_len,
        train_on_inputs,
        system_prompt,
        tokenizer.chat_template,
        tokenizer.eos_token,
        tokenizer.bos_token,
        type(tokenizer).__name__,
    ]
    digest.update(json.dumps(settings).encode())
    backend = getattr(tokenizer, "backend_tokenizer", None)
    digest.update((backend.to_str() if backend is not None else repr(tokenizer.get_vocab())).encode())
    digest.update(json.dumps(examples, sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def encode_cached(
    examples: list[dict[str, Any]],
    tokenizer: Any,
    max_seq_len: int,
    train_on_inputs: bool,
    system_prompt: str | None,
) -> tuple[list[dict[str, list[int]]], EncodeStats, bool]:
    """encode_all through the on-disk cache. Returns (rows, stats, cache_hit).

    Sweep workers on one machine may miss the same key at the same moment: each writes its own
    uniquely named temporary file and renames it over CACHE/KEY/rows.json (atomic on POSIX), so no
    writer touches another's file and a reader sees a whole entry or none. Both entries are equal.
    """
    key = cache_key(examples, tokenizer, max_seq_len, train_on_inputs, system_prompt)
    path = tokenized_cache_dir() / key / "rows.json"
    payload = _load(path)
    if payload is not None:
        return payload["rows"], EncodeStats(**payload["stats"]), True
    rows, stats = encode_all(examples, tokenizer, max_seq_len, train_on_inputs, system_prompt)
    _store(path, {"rows": rows, "stats": stats.__dict__})
    return rows, stats, False


def _load(path: Path) -> dict[str, Any] | None:
    """A cache entry, or None: missing, or damaged (a full disk; a thrifty killed mid-write) and rebuilt."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
        return None
    if not isinstance(payload.get("stats"), dict) or set(payload["stats"]) != set(
        EncodeStats.__dataclass_fields__
    ):
        return None
    return payload


def _store(path: Path, payload: dict[str, Any]) -> None:
    """Atomically (a unique temporary sibling renamed over it): concurrent writers never share a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, payload, indent=None)
