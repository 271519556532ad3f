"""--search-fraction: a stratified share of the training data, with the held-out set kept whole.

Trials of a cheap search must be compared on the same held-out examples as the final run, so the
split is made once on the full data (same seed as `thrifty train`), and only the training side shrinks.
"""

import json
import random
from pathlib import Path
from typing import Any

from thrifty.config.schema import DataConfig
from thrifty.data import split_examples
from thrifty.data.readers import read_records

BUCKETS = 4  # length quartiles: short and long examples keep their share of the subset


def stratified_subset(records: list[Any], fraction: float, seed: int) -> list[Any]:
    """`fraction` of each length quartile (at least one per non-empty bucket), seeded, in file order."""
    order = sorted(range(len(records)), key=lambda i: len(json.dumps(records[i], sort_keys=True)))
    rng = random.Random(seed)
    keep: list[int] = []
    for b in range(BUCKETS):
        bucket = order[b * len(order) // BUCKETS : (b + 1) * len(order) // BUCKETS]
        if bucket:
            keep += rng.sample(bucket, max(1, round(len(bucket) * fraction)))
    return [records[i] for i in sorted(keep)]


def write_subset(data: DataConfig, seed: int, fraction: float, folder: Path) -> dict[str, Any]:
    """Write folder/train.jsonl (the subset) and folder/eval.jsonl; return the data-section fields to use."""
    records = read_records(data.path, data.split)
    if data.eval_path:
        train, held = records, read_records(data.eval_path, data.split)
    else:
        train, held = split_examples(records, data.val_fraction, seed)
    if data.max_examples:
        train = train[: data.max_examples]
    subset = stratified_subset(train, fraction, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train.jsonl", subset), ("eval.jsonl", held)):
        tmp = folder / (name + ".tmp")
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
        tmp.replace(folder / name)
    return {
        "path": str(folder / "train.jsonl"),
        "eval_path": str(folder / "eval.jsonl"),
        "max_examples": None,
        "train_examples": len(subset),
    }
