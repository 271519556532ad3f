"""Which training examples become a query's shots: a registry of picks, one class per kind, all ranking
the pool for one query (best first) the same way.

- `random`: a seeded sample, seeded per query (the seed and the query's position), so a query's shots do
  not change when other queries are added or cut (--max-examples).
- `retrieved`: the pool examples whose question is most similar to the query's, by TF-IDF cosine.
  TF-IDF needs no model and no download (scikit-learn is already a dependency), is deterministic, and
  on FAQ-like data (short questions sharing key words) finds the near-duplicates that help most; an
  embedding model would catch paraphrases better at the price of a second model to fetch and run.

Similarity and exclusion read the question side only (every turn before the last answer): the query's
own answer is what is being scored, so it must never steer the choice.

A pool example with the query's question (the same text, whitespace and case aside) is never one of its
shots: it is the held-out example itself, or a duplicate of it in the training data, and would hand the
model its answer.
"""

import random
from typing import Any

Example = dict[str, Any]


def question_text(example: Example) -> str:
    """The turns before the last answer, joined: what a user would send."""
    messages = example["messages"]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return "\n".join(m["content"] for m in messages[:last] if m["role"] != "system")


def question_key(text: str) -> str:
    return " ".join(text.lower().split())


class Pool:
    """The training examples shots come from, with their questions and the index of equal questions."""

    def __init__(self, examples: list[Example]):
        self.examples = examples
        self.questions = [question_text(e) for e in examples]
        self.by_key: dict[str, set[int]] = {}
        for i, text in enumerate(self.questions):
            self.by_key.setdefault(question_key(text), set()).add(i)

    def __len__(self) -> int:
        return len(self.examples)

    def same_question(self, question: str) -> set[int]:
        return self.by_key.get(question_key(question), set())


class RandomPick:
    def __init__(self, pool: Pool, seed: int):
        self.pool, self.seed = pool, seed

    def rank(self, question: str, position: int, k: int) -> list[int]:
        excluded = self.pool.same_question(question)
        rng = random.Random(f"few-shot:{self.seed}:{position}")  # str seeds are stable across runs
        # k plus the excluded ones drawn without replacement leave at least k allowed (when there are).
        drawn = rng.sample(range(len(self.pool)), min(len(self.pool), k + len(excluded)))
        return [i for i in drawn if i not in excluded][:k]


class RetrievedPick:
    def __init__(self, pool: Pool, seed: int):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.pool = pool
        # Single-letter tokens count too (model names, "a"/"b" options); sublinear tf: a word said
        # three times is not three times the evidence.
        self.vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b", sublinear_tf=True)
        try:
            self.matrix = self.vectorizer.fit_transform(pool.questions)
        except ValueError:  # no word at all in any question: every similarity is 0
            self.matrix = None

    def similarities(self, question: str):
        """Cosine similarity of `question` to every pool question (TF-IDF rows are L2-normalised)."""
        import numpy as np

        if self.matrix is None:
            return np.zeros(len(self.pool))
        return (self.matrix @ self.vectorizer.transform([question]).T).toarray().ravel()

    def rank(self, question: str, position: int, k: int) -> list[int]:
        import numpy as np

        excluded = self.pool.same_question(question)
        order = np.argsort(-self.similarities(question), kind="stable")  # ties: pool order
        return [int(i) for i in order[: k + len(excluded)] if int(i) not in excluded][:k]


PICKS = {"random": RandomPick, "retrieved": RetrievedPick}
DEFAULT_PICK = "retrieved"  # the strongest no-training baseline: fine-tuning should beat the best prompt
