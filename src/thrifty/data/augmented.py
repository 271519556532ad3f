"""Rows that `thrifty data augment` generated carry `augmented_from`: the row number (0-based, file order)
of the original they were made from. The hold-out must never score a model on them, nor train it on a
rewrite of a question it is scored on, so the split is made on the originals alone (the same held-out
rows as the file without its augmented rows) and an augmented row follows its source: into train when
the source trains, nowhere when the source is held out.
"""

from typing import Any

from thrifty.errors import UserError

AUGMENTED = "augmented_from"


def source_row(record: dict[str, Any], where: str) -> int | None:
    """The row `record` was made from, or None for an original. CSV writes an original's cell as "" and
    Parquet as null; a CSV number comes back as a string."""
    value = record.get(AUGMENTED)
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UserError(
            f"{where}: {AUGMENTED} must be the row number (from 0) of the row it was made from, got {value!r}"
        )
    return value


def mark(example: dict[str, Any], record: dict[str, Any], where: str) -> dict[str, Any]:
    """The canonical example with its record's source row kept beside the messages (tokenizing reads only
    messages/text, so the extra key costs nothing) for the split to see."""
    row = source_row(record, where)
    if row is not None:
        example[AUGMENTED] = row
    return example


def sources_of(items: list[Any]) -> list[int | None]:
    """Each item's source row (None: an original or not a dict); canonical examples and raw records alike."""
    return [
        source_row(item, f"record {i + 1}") if isinstance(item, dict) else None
        for i, item in enumerate(items)
    ]


def split_keeping_sources(
    items: list[Any], sources: list[int | None], val_fraction: float, seed: int, split
) -> tuple[list[Any], list[Any]]:
    """`split` (the plain seeded hold-out) on the originals; then each augmented row joins train when the
    original it descends from trains. Its source may itself be augmented (a file augmented twice): the
    chain is followed to an original. A source outside the file cannot be held out, so its row trains."""
    originals = [i for i, s in enumerate(sources) if s is None]
    _, held_rows = split(originals, val_fraction, seed)
    held = set(held_rows)
    train = [item for i, item in enumerate(items) if _root(i, sources) not in held]
    return train, [items[i] for i in held_rows]


def _root(row: int, sources: list[int | None]) -> int | None:
    """The original row `row` descends from (itself for an original); None when the chain leaves the file
    or loops."""
    for _ in range(len(sources) + 1):
        if not 0 <= row < len(sources):
            return None
        if sources[row] is None:
            return row
        row = sources[row]
    return None
