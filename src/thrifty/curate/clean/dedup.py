"""Exact and near-duplicate detection over texts: the normalised key, and MinHash LSH on character
shingles. `thrifty data clean` removes what these find; `thrifty data inspect` only counts it.

Positions are indexes into the lists passed in; the callers map them to row numbers.
"""

import re
import unicodedata

NUM_PERM = 128  # MinHash permutations: the Jaccard estimate's standard error is ~sqrt(J(1-J)/128) <= 0.044
SHINGLE_CHARS = 5  # character 5-grams of the normalised text
# datasketch cannot build bands for a threshold of 1 (it needs at least 2 bands); its LSH then runs at
# this threshold and the MinHash estimate (>= the asked one) confirms.
LSH_MAX_THRESHOLD = 0.98

_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Casefolded, punctuation replaced by spaces, whitespace collapsed: "Hi,  THERE!" -> "hi there".

    Punctuation becomes a space rather than vanishing, so "end.Start" and "end. Start" agree."""
    chars = (" " if unicodedata.category(c).startswith("P") else c for c in text.casefold())
    return _SPACES.sub(" ", "".join(chars)).strip()


def shingles(text: str, size: int = SHINGLE_CHARS) -> set[str]:
    """Character `size`-grams of the normalised text (the whole text when shorter).

    Characters rather than word 3-grams: on answers of 30-60 words one changed word alters 3 of ~40
    word 3-grams (Jaccard ~0.86, at the default threshold's edge) but only ~10 of ~250 character
    5-grams (Jaccard ~0.92), so a typo fix or a swapped word still reads as the same row."""
    norm = normalise(text)
    if len(norm) <= size:
        return {norm}
    return {norm[i : i + size] for i in range(len(norm) - size + 1)}


def exact_duplicates(texts: list[str]) -> dict[int, int]:
    """position -> position of the first text with the same normalised key (first occurrences absent)."""
    first: dict[str, int] = {}
    found = {}
    for i, text in enumerate(texts):
        key = normalise(text)
        if key in first:
            found[i] = first[key]
        else:
            first[key] = i
    return found


def minhashes(texts: list[str]) -> list:
    """One datasketch MinHash per text, over its character shingles."""
    from datasketch import MinHash

    sets = [[s.encode("utf-8") for s in shingles(t)] for t in texts]
    return MinHash.bulk(sets, num_perm=NUM_PERM)


def _lsh(threshold: float):
    from datasketch import MinHashLSH

    return MinHashLSH(threshold=min(threshold, LSH_MAX_THRESHOLD), num_perm=NUM_PERM)


def near_duplicates(texts: list[str], threshold: float) -> dict[int, tuple[int, float]]:
    """position -> (earliest kept position it near-duplicates, estimated Jaccard).

    Texts are visited in order and only kept ones enter the index, so every cluster keeps its earliest
    text and each duplicate points at a text that stays."""
    hashes = minhashes(texts)
    index = _lsh(threshold)
    found: dict[int, tuple[int, float]] = {}
    for i, mh in enumerate(hashes):
        match = _best(index, mh, hashes, threshold)
        if match is None:
            index.insert(i, mh)
        else:
            found[i] = match
    return found


def matches_in(texts: list[str], reference: list[str], threshold: float) -> dict[int, tuple[int, float]]:
    """position in `texts` -> (earliest position in `reference` it duplicates, Jaccard): exact (1.0)
    on the normalised key first, then near at `threshold`. Leakage: texts = train, reference = eval."""
    first: dict[str, int] = {}
    for j, text in enumerate(reference):
        first.setdefault(normalise(text), j)
    found: dict[int, tuple[int, float]] = {}
    rest = []
    for i, text in enumerate(texts):
        j = first.get(normalise(text))
        if j is None:
            rest.append(i)
        else:
            found[i] = (j, 1.0)
    ref_hashes = minhashes(reference)
    index = _lsh(threshold)
    for j, mh in enumerate(ref_hashes):
        index.insert(j, mh)
    for i, mh in zip(rest, minhashes([texts[i] for i in rest]), strict=True):
        match = _best(index, mh, ref_hashes, threshold)
        if match is not None:
            found[i] = match
    return found


def _best(index, mh, hashes: list, threshold: float) -> tuple[int, float] | None:
    """The earliest LSH candidate whose estimated Jaccard reaches the threshold (LSH alone lets some
    below it through), with that estimate."""
    for j in sorted(index.query(mh)):
        jaccard = float(mh.jaccard(hashes[j]))
        if jaccard >= threshold:
            return j, jaccard
    return None
