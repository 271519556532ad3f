"""The quality filter every candidate prompt passes before it becomes a row, and the cleaning of what a
generator writes around its rewrite ("Here is the rewritten question:", labels, quotes, an answer
after the question). Each rejection has one reason, the first that applies, and the reasons are
counted: a summary that says 80% were `not_a_question` tells the user the model answers instead of
rewriting.

Drift is judged lexically (no model): the similarity window, the share of content words kept, and the
terms a rewrite must keep. The terms matter most on domain data, where a small model "paraphrases"
bygglov into byggløv or drops it. A rewrite in entirely new words is rejected too: the price of
catching the small model's unrelated questions.
"""

import difflib
import re
from dataclasses import dataclass

REASONS = (
    "empty",  # nothing left after cleaning
    "echo",  # repeats our instruction ("rewrite", "translate") or a worked example's topic (passport)
    "identical",  # the original again, after normalising case, spacing and punctuation
    "duplicate",  # another row's prompt, or a candidate already kept (two answers to one prompt)
    "leaks_answer",  # contains the row's answer: the model would learn to copy it from the prompt
    "lost_term",  # drops or misspells a number, acronym, name or word no dictionary has (bygglov, ROT)
    "not_a_question",  # the original asks (ends with '?'), the candidate does not
    "too_short",
    "too_long",
    "too_similar",  # a near copy adds nothing
    "too_different",  # drifted: too little alike, or keeps too few of the original's content words
)
ECHO_MARKERS = ("rewrite", "rephrase", "paraphrase", "different words", "its meaning", "translat", "here is")
LEAK_MIN_WORDS = 3  # shorter answers ("Yes.") occur in honest questions
WORD = re.compile(r"\w+")
TOKEN = re.compile(r"\w+(?:'\w+)?")  # hyphens split: ROT-eligible is the term ROT and a word
TERM_MIN_LETTERS = 4  # shorter unknown tokens are mostly abbreviations of ordinary words
# "one" is left out: more often a pronoun ("can one build") than a count.
NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve hundred thousand".split()
)
LEAD_IN = re.compile(r"^(here is|here's|here are|sure|certainly|of course|okay)\b|:$", re.IGNORECASE)
LABEL = re.compile(
    r"^(?:(?:rewritten|reworded|rephrased|paraphrased|new|alternative|translated)\s+)?"
    r"(?:question|version|sentence|paraphrase|rewrite|translation|instruction|request|answer|"
    r"english|spanish|french|german)\s*:\s*",
    re.IGNORECASE,
)
BULLET = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
WRAPPING = "\"'“”‘’«»*`_ "


@dataclass
class Limits:
    min_length: float = 0.5  # candidate words / original words
    max_length: float = 2.0
    min_similarity: float = 0.3  # difflib ratio of the normalised texts, 0..1
    max_similarity: float = 0.95
    min_shared: float = 0.25  # share of the original's content words (stop words aside) still there


def normalise(text: str) -> str:
    """Lower case words, single spaces: what `identical` and `duplicate` compare."""
    return " ".join(WORD.findall(text.lower()))


def clean_generated(text: str, original: str) -> str:
    """The rewrite inside a generator's output: lead-in lines, labels, bullets and quotes dropped; for a
    question, the first line that asks, cut after as many '?' as the original has (what follows is
    usually the model answering); otherwise the first line."""
    lines = [_unwrap(line) for line in text.splitlines()]
    lines = [line for line in lines if line and not LEAD_IN.search(line)]
    if not lines:
        return ""
    if not original.rstrip().endswith("?"):
        return lines[0]
    asks = max(1, original.count("?"))
    for line in lines:
        if "?" in line:
            ends = [i for i, ch in enumerate(line) if ch == "?"]
            return _unwrap(line[: ends[min(asks, len(ends)) - 1] + 1])
    return lines[0]


def _unwrap(line: str) -> str:
    line = BULLET.sub("", line.strip().strip(WRAPPING))
    return LABEL.sub("", line).strip(WRAPPING).strip()


def rejection(
    candidate: str, original: str, answer: str, taken: set[str], limits: Limits, near_copies_ok: bool = False
) -> str | None:
    """Why `candidate` may not replace `original` (a REASONS entry), or None to keep it. `taken` holds
    the normalised prompts already in the output."""
    new, old = normalise(candidate), normalise(original)
    if not new:
        return "empty"
    if any(marker in new and marker not in old for marker in ECHO_MARKERS) or _echoes_an_example(new, old):
        return "echo"
    if new == old:
        return "identical"
    if new in taken:
        return "duplicate"
    if _contains(new, normalise(answer)):
        return "leaks_answer"
    if not terms(original) <= {t.lower() for t in TOKEN.findall(candidate)}:
        return "lost_term"
    if original.rstrip().endswith("?") and not candidate.rstrip().endswith("?"):
        return "not_a_question"
    ratio = len(new.split()) / max(1, len(old.split()))
    if ratio < limits.min_length:
        return "too_short"
    if ratio > limits.max_length:
        return "too_long"
    similarity = difflib.SequenceMatcher(None, old, new).ratio()
    if similarity > limits.max_similarity and not near_copies_ok:
        return "too_similar"
    if similarity < limits.min_similarity or _shared(old, new) < limits.min_shared:
        return "too_different"
    return None


def terms(text: str) -> set[str]:
    """What a rewrite must keep, lower case: numbers (digits or words), acronyms (KA, ROT) and words that
    are neither English (the thesaurus, with plain endings) nor stop words: names, foreign and technical
    terms."""
    from thrifty.curate.augment.vocabulary import STOP_WORDS, is_word

    found = set()
    for token in TOKEN.findall(text):
        lower = token.lower()
        if any(ch.isdigit() for ch in token) or (token.isupper() and len(token) > 1) or lower in NUMBER_WORDS:
            found.add(lower)
        elif len(token) >= TERM_MIN_LETTERS and lower not in STOP_WORDS and not is_word(lower):
            found.add(lower)
    return found


def _echoes_an_example(new: str, old: str) -> bool:
    from thrifty.curate.augment.prompts import SHOT_TOPICS

    return bool((SHOT_TOPICS & set(new.split())) - set(old.split()))


def _shared(old: str, new: str) -> float:
    """The share of `old`'s content words (crudely singular) that `new` still has; 1 when it has none."""
    mine, theirs = _content(old), _content(new)
    return len(mine & theirs) / len(mine) if mine else 1.0


def _content(text: str) -> set[str]:
    from thrifty.curate.augment.vocabulary import STOP_WORDS

    words = (w for w in text.split() if len(w) >= 3 and w not in STOP_WORDS)
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words}


def _contains(text: str, answer: str) -> bool:
    return len(answer.split()) >= LEAK_MIN_WORDS and f" {answer} " in f" {text} "
