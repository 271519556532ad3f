"""The rule registry: name -> a help line and the function that picks rows to remove, filled by each
rule module's `@register(...)`. ORDER fixes the order `clean` runs them in: cheap exact checks before
MinHash, and duplicates before the per-row rules, so a duplicate is reported as one (not as, say, too
short twice).

It imports no rule module, so the modules can import `register` from here without an import circle;
`thrifty.curate.clean.filters` imports them all once, which fills the table.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

ORDER = ("exact", "near-dup", "leakage", "length", "repetition", "language")


@dataclass(frozen=True)
class Row:
    """One input row as the rules see it."""

    index: int  # the input row number (0-based), what removed.jsonl reports
    prompt: str  # everything before the last answer ("" for a plain-text row)
    answer: str  # what training learns: the last assistant turn, or a plain-text row's whole text

    @property
    def text(self) -> str:
        """Prompt and answer together: what duplicate checks compare."""
        return f"{self.prompt}\n{self.answer}"


@dataclass(frozen=True)
class Removal:
    row: int
    reason: str  # a few words a person can check ("same text as row 12")
    duplicate_of: int | None = None  # the kept input row (leakage: the eval row) it duplicates


@dataclass
class Settings:
    """What the rules read: the thresholds and the eval rows, from `thrifty data clean`'s flags."""

    near_dup: float = 0.85  # Jaccard of character shingles at or above which two rows are one
    min_answer_tokens: int = 3
    max_answer_tokens: int | None = None
    max_repeat: float = 0.3  # share of an answer's word 3-grams that repeat an earlier one
    langs: list[str] | None = None  # keep only these language codes; None: any language
    eval_rows: list[Row] | None = None  # --eval's rows, numbered in their own file
    count: Callable[[list[str]], list[int]] = field(default=lambda texts: [len(t.split()) for t in texts])
    unit: str = "words"  # what `count` counts: words, or tokens of --model's tokenizer


RuleFn = Callable[[list[Row], Settings], list[Removal]]


@dataclass(frozen=True)
class Rule:
    name: str
    help: str
    apply: RuleFn
    enabled: Callable[[Settings], bool]  # off when its flag is not given (leakage without --eval, ...)


RULES: dict[str, Rule] = {}


def register(name: str, help: str, enabled: Callable[[Settings], bool] = lambda s: True):
    """Register a rule under `name` (which must be in ORDER). The function gets the rows still kept,
    in input order, and returns the ones it removes."""
    if name not in ORDER:
        raise KeyError(f"rule {name!r} is not in ORDER (thrifty/curate/clean/filters/registry.py)")

    def wrap(fn: RuleFn) -> RuleFn:
        RULES[name] = Rule(name, help, fn, enabled)
        return fn

    return wrap


def ordered() -> list[Rule]:
    """Every registered rule in running order."""
    return [RULES[name] for name in ORDER if name in RULES]
