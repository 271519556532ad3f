"""synonyms: swap a few content words of each prompt for Moby thesaurus synonyms (seeded, no model).

Moby's lists are loose ("permit" lists OK, accede to, fishing license) and mix senses, so a synonym is
used only when it is one word and itself a head word, and only the few closest ones (those whose own
lists overlap the word's most) are drawn from; stop words, short words and capitalised words inside a sentence (names) are never
swapped, and only about --synonym-rate of the content words change (at least one). Without a
part-of-speech tagger a swap can still pick the wrong sense: keep the rate low.
"""

import random
import re
from functools import cache

from thrifty.curate.augment.generation import Context
from thrifty.curate.augment.options import DEFAULT_SYNONYM_RATE
from thrifty.curate.augment.registry import Augmenter, Candidate, Source, register
from thrifty.curate.augment.vocabulary import STOP_WORDS, thesaurus, thesaurus_file

WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
ARTICLE = re.compile(r"\b(an?|An?)\s+$")
MIN_LETTERS = 3
CLOSEST = 3  # a swap picks among the word's 3 closest synonyms
MIN_OVERLAP = 0.1  # below this share of common synonyms the sense is usually another one


@cache
def synonyms_of(word: str) -> tuple[str, ...]:
    """The few closest usable synonyms of `word` (lower case): one-word head words, ranked by how much
    their own lists overlap the word's (Jaccard): a synonym in the same sense shares many (cost ->
    expense 0.6), one in another sense few (cost -> bereavement 0.26), a loose one almost none."""
    entries = thesaurus()
    listed = entries.get(word)
    if not listed:
        return ()
    mine = set(listed.split(","))
    scored = []
    for other in mine:
        if (
            other.isalpha()
            and other.islower()
            and other != word
            and other not in STOP_WORDS
            and other in entries
        ):
            theirs = set(entries[other].split(","))
            scored.append((len(mine & theirs) / len(mine | theirs), other))
    best = sorted(scored, key=lambda pair: (-pair[0], pair[1]))[:CLOSEST]
    return tuple(other for overlap, other in best if overlap >= MIN_OVERLAP)


def swap_synonyms(text: str, rate: float, rng: random.Random) -> str:
    """`text` with about `rate` of its content words (at least one, if any has a synonym) swapped."""
    words = list(WORD.finditer(text))
    content = [m for m in words if m.group().lower() not in STOP_WORDS]
    swappable = [m for m in content if _swappable(text, m) and synonyms_of(m.group().lower())]
    count = min(len(swappable), max(1, round(rate * len(content))))
    chosen = sorted(rng.sample(swappable, count), key=lambda m: m.start())
    pieces, cursor = [], 0
    for match in chosen:
        new = _same_case(match.group(), rng.choice(synonyms_of(match.group().lower())))
        pieces += [_article_for(text[cursor : match.start()], new), new]
        cursor = match.end()
    return "".join(pieces) + text[cursor:]


def _article_for(before: str, word: str) -> str:
    """`before` with a trailing "a"/"an" made to fit `word` (a approve -> an approve)."""
    found = ARTICLE.search(before)
    if not found:
        return before
    article = found.group(1)[0] + ("n" if word[0].lower() in "aeiou" else "")
    return before[: found.start(1)] + article + before[found.end(1) :]


def _swappable(text: str, match: re.Match) -> bool:
    word = match.group()
    if len(word) < MIN_LETTERS:
        return False
    starts_sentence = not text[: match.start()].strip() or text[: match.start()].rstrip()[-1] in ".?!:"
    return word.islower() or (starts_sentence and word[1:].islower())  # a capital inside: a name


def _same_case(old: str, new: str) -> str:
    return new.capitalize() if old[0].isupper() else new


def make(sources: list[Source], ctx: Context) -> list[Candidate]:
    rate = ctx.options.synonym_rate or DEFAULT_SYNONYM_RATE
    # One generator per row (seed, row): a row's swaps do not depend on which rows come before it.
    return [
        Candidate(
            s.row,
            "synonyms",
            swap_synonyms(s.prompt, rate, random.Random(ctx.options.seed * 1_000_003 + s.row)),
        )
        for s in sources
    ]


def check() -> None:
    thesaurus_file()


register(
    Augmenter(
        name="synonyms",
        help="Swap about --synonym-rate of each prompt's content words for Moby thesaurus synonyms.",
        make=make,
        needs_model=False,
        near_copies_ok=True,
        check=check,
    )
)
