"""The figures `thrifty data inspect` reports, each from the code that does the real thing: training
tokens from thrifty.data.tokenize's own encoding, duplicates and leakage from clean's dedup, languages
and degenerate answers from clean's rules. Nothing here writes a file."""

import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from thrifty.curate.clean.dedup import exact_duplicates, matches_in, near_duplicates
from thrifty.curate.clean.filters import Row
from thrifty.curate.clean.filters.language import detect
from thrifty.curate.clean.filters.repetition import echoes_prompt, repeated_share
from thrifty.data.tokenize import IGNORE_INDEX, encode_example

NEAR_EMPTY = 3  # answers under this many tokens teach next to nothing (clean's --min-answer-tokens default)
LOOPING = 0.3  # share of repeated word 3-grams above which an answer loops (clean's --max-repeat default)


@dataclass
class Encoded:
    """One example as `thrifty train` would tokenize it."""

    tokens: int  # the whole rendered prompt+answer, before truncation
    kept: int  # tokens left after truncation at max_seq_len: what a step trains on
    learned: int  # label tokens within max_seq_len (0: training drops the example)


def encode(
    examples: list[dict[str, Any]], tokenizer: Any, max_seq_len: int, system: str | None
) -> list[Encoded]:
    """Every example through training's own encode_example, uncut (sys.maxsize) so the full length is
    known; then cut at max_seq_len as training cuts it."""
    out = []
    for example in examples:
        row, _ = encode_example(example, tokenizer, sys.maxsize, False, system)
        learned = sum(label != IGNORE_INDEX for label in row["labels"][:max_seq_len])
        out.append(Encoded(len(row["input_ids"]), min(len(row["input_ids"]), max_seq_len), learned))
    return out


def distribution(values: list[int]) -> dict[str, float]:
    """min, median, mean, 95th percentile and max."""
    import numpy as np

    if not values:
        return {"min": 0, "median": 0, "mean": 0, "p95": 0, "max": 0}
    array = np.asarray(values)
    return {
        "min": int(array.min()),
        "median": float(np.median(array)),
        "mean": round(float(array.mean()), 2),
        "p95": float(np.percentile(array, 95)),
        "max": int(array.max()),
    }


def token_figures(encoded: list[Encoded], max_seq_len: int) -> dict[str, Any]:
    lengths = [e.tokens for e in encoded]
    truncated = sum(e.tokens > max_seq_len for e in encoded)
    return {
        "max_seq_len": max_seq_len,
        "total": sum(lengths),  # before truncation
        "within_max_seq_len": sum(e.kept for e in encoded),
        **distribution(lengths),
        "truncated": truncated,
        "truncated_share": truncated / len(encoded),
        "dropped": sum(e.learned == 0 for e in encoded),  # nothing to learn within max_seq_len
    }


def answer_figures(rows: list[Row], answer_tokens: list[int]) -> dict[str, Any]:
    near_empty = sum(n < NEAR_EMPTY for n in answer_tokens)
    return {
        "unit": "tokens",
        **distribution(answer_tokens),
        "near_empty": near_empty,  # under NEAR_EMPTY tokens
        "near_empty_share": near_empty / len(rows),
        "repeat_prompt": sum(echoes_prompt(r.prompt, r.answer) for r in rows),
        "looping": sum(repeated_share(r.answer) > LOOPING for r in rows),
    }


def duplicate_figures(rows: list[Row], train: list[Row], held: list[Row], threshold: float) -> dict[str, Any]:
    """Within the file as clean counts it (exact first, near-dup over what is left), and the train rows
    that repeat a held-out row (leakage)."""
    texts = [r.text for r in rows]
    exact = exact_duplicates(texts)
    rest = [t for i, t in enumerate(texts) if i not in exact]
    near = near_duplicates(rest, threshold)
    leaked = matches_in([r.text for r in train], [r.text for r in held], threshold)
    return {
        "near_dup_threshold": threshold,
        "exact": len(exact),
        "exact_share": len(exact) / len(rows),
        "near": len(near),
        "near_share": len(near) / len(rows),
        "leakage": len(leaked),  # train rows that are (near) copies of an eval row
        "leakage_share": len(leaked) / len(train) if train else 0.0,
    }


def languages(rows: list[Row]) -> dict[str, int]:
    """Rows per language py3langid reads in prompt + answer, most common first."""
    return dict(Counter(detect(r.text) for r in rows).most_common())
