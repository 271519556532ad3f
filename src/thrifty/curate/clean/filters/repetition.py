"""repetition: degenerate answers, the kind a model copies into its own generations: one that loops
on its own phrases (a large share of its word 3-grams repeat an earlier one), or one that only
echoes the prompt."""

from collections import Counter

from thrifty.curate.clean.dedup import normalise
from thrifty.curate.clean.filters.registry import Removal, Row, Settings, register

NGRAM = 3  # words per n-gram


def ngrams(text: str, n: int = NGRAM) -> list[tuple[str, ...]]:
    words = normalise(text).split()
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def repeated_share(text: str) -> float:
    """Share of the text's word 3-grams that repeat an earlier one: 0 for none, near 1 for a loop
    ("yes yes yes yes" -> 1/2: its 2 3-grams are the same). 0 below 2 n-grams."""
    grams = ngrams(text)
    if len(grams) < 2:
        return 0.0
    return sum(c - 1 for c in Counter(grams).values()) / len(grams)


def echoes_prompt(prompt: str, answer: str) -> bool:
    """The answer is the prompt, or made only of the prompt's own 3-word phrases."""
    norm_answer = normalise(answer)
    if not norm_answer or not prompt:
        return False
    if norm_answer == normalise(prompt):
        return True
    grams = set(ngrams(answer))
    return bool(grams) and grams <= set(ngrams(prompt))


@register("repetition", "answer repeats itself (share of repeated word 3-grams > --max-repeat) or the prompt")
def repetition(rows: list[Row], settings: Settings) -> list[Removal]:
    out = []
    for row in rows:
        share = repeated_share(row.answer)
        if share > settings.max_repeat:
            out.append(Removal(row.index, f"{share:.0%} of the answer's word 3-grams repeat"))
        elif echoes_prompt(row.prompt, row.answer):
            out.append(Removal(row.index, "the answer repeats the prompt"))
    return out
