"""The kinds of augmentation: each module (paraphrase, back_translate, synonyms) registers one with its
name, its help and the function that makes candidate prompts from the source rows. Candidates then pass
the quality filter (filters.py) before they become rows."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Source:
    """A row to augment: its number in the file (0-based, what `augmented_from` says), its prompt (the
    column the format asks with: alpaca's instruction, the last user turn of a conversation) and the
    answer, which an augmented row keeps unchanged."""

    row: int
    prompt: str
    answer: str


@dataclass
class Candidate:
    row: int  # the source row
    kind: str
    prompt: str  # the new prompt, already cleaned of the generator's artefacts


Maker = Callable[[list[Source], Any], list[Candidate]]  # (sources, run.Context) -> candidates


@dataclass
class Augmenter:
    name: str
    help: str
    make: Maker
    needs_model: bool  # load the generator before running it
    near_copies_ok: bool = False  # word swaps are near copies by design: only identical ones are rejected
    check: Callable[[], None] | None = None  # what it needs (a thesaurus), checked before any model loads


AUGMENTERS: dict[str, Augmenter] = {}


def register(augmenter: Augmenter) -> Augmenter:
    AUGMENTERS[augmenter.name] = augmenter
    return augmenter
