"""Data: read files, detect formats, split, tokenize with label masks, and batch."""

import random
from dataclasses import dataclass, field
from typing import Any

from thrifty.config.schema import DataConfig
from thrifty.data import augmented
from thrifty.data.formats import detect_format, to_canonical
from thrifty.data.readers import read_records, resolve_data_path
from thrifty.data.tokenize import EncodeStats, check_max_seq_len, encode_cached
from thrifty.errors import UserError


@dataclass
class PreparedData:
    train: list[dict[str, list[int]]]
    eval: list[dict[str, list[int]]]
    eval_examples: list[dict[str, Any]]  # canonical held-out examples, for generating answers
    format: str
    train_stats: EncodeStats
    eval_stats: EncodeStats
    # Tokens per training example as the planner should count them; empty: len(row["input_ids"]).
    # Preference rows are untokenized pairs (TRL tokenizes them), so their reader counts them.
    train_lengths: list[int] = field(default_factory=list)

    def lengths(self) -> list[int]:
        return self.train_lengths or [len(row["input_ids"]) for row in self.train]


def load_examples(path: str, config: DataConfig) -> tuple[list[dict[str, Any]], str]:
    """Read `path` and return its canonical examples and detected format."""
    records = read_records(path, config.split)
    source = str(resolve_data_path(path))
    if not records:
        raise UserError(f"{source}: the dataset is empty; add examples")
    columns = sorted({key for record in records[:100] for key in record})
    fmt = detect_format(columns, config.format, source)
    examples = [to_canonical(r, fmt, f"{source}: record {i + 1}") for i, r in enumerate(records)]
    return examples, fmt


def split_examples(examples: list[Any], val_fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    """Seeded hold-out: the same data and seed always give the same split. Rows of `thrifty data augment`
    (marked `augmented_from`) are never held out, and train only when their source does (see
    thrifty.data.augmented)."""
    sources = augmented.sources_of(examples)
    if any(s is not None for s in sources):
        return augmented.split_keeping_sources(examples, sources, val_fraction, seed, _split)
    return _split(examples, val_fraction, seed)


def _split(examples: list[Any], val_fraction: float, seed: int) -> tuple[list[Any], list[Any]]:
    if len(examples) < 2:
        raise UserError(
            "need at least 2 examples to hold some out for evaluation; add data or set data.eval_path"
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = max(1, round(len(examples) * val_fraction))
    held = set(order[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def held_out_examples(config: DataConfig, seed: int) -> tuple[list[dict[str, Any]], str, str]:
    """(examples, format, source) of what a run holds out: data.eval_path, else the seeded hold-out of
    data.path, the same split training made. Evaluation and a sweep's task metric score these."""
    if config.eval_path:
        examples, fmt = load_examples(config.eval_path, config)
        return examples, fmt, config.eval_path
    examples, fmt = load_examples(config.path, config)
    held = split_examples(examples, config.val_fraction, seed)[1]
    return held, fmt, f"{config.path} (held-out {config.val_fraction:g}, seed {seed})"


def prepare_data(config: DataConfig, tokenizer: Any, seed: int) -> PreparedData:
    if not config.path:
        raise UserError("data.path is required: pass --data FILE or set data.path in the config")
    check_max_seq_len(tokenizer, config.max_seq_len, config.system_prompt)
    train_examples, fmt = load_examples(config.path, config)
    if config.eval_path:
        eval_examples, _ = load_examples(config.eval_path, config)
    else:
        train_examples, eval_examples = split_examples(train_examples, config.val_fraction, seed)
    if config.max_examples:
        train_examples = train_examples[: config.max_examples]
    args = (tokenizer, config.max_seq_len, config.train_on_inputs, config.system_prompt)
    train_rows, train_stats, _ = encode_cached(train_examples, *args)
    eval_rows, eval_stats, _ = encode_cached(eval_examples, *args)
    if not train_rows:
        raise UserError(
            f"{config.path}: no training examples left after filtering ({train_stats.dropped} had nothing to learn "
            f"within data.max_seq_len={config.max_seq_len}); raise max_seq_len or check the answers are not empty"
        )
    if not eval_rows:
        raise UserError(f"{config.eval_path or config.path}: no evaluation examples left after filtering")
    return PreparedData(train_rows, eval_rows, eval_examples, fmt, train_stats, eval_stats)
