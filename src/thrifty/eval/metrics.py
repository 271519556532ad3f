"""Task metrics on generated answers against reference answers, each a mean over examples in [0, 1].

ROUGE-L comes from Google's `rouge-score` and accuracy from scikit-learn. Exact match and token F1 follow
the official SQuAD v1.1 evaluation script (lower-case, drop punctuation and English articles, collapse
spaces): Hugging Face `evaluate` ships that script only as a module fetched from the Hub at run time,
which an offline machine cannot do, so its ten lines of normalisation live here.
"""

import json
import re
import string
from collections import Counter
from collections.abc import Callable

from thrifty.errors import UserError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def normalize(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


def exact(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def contains(prediction: str, reference: str) -> float:
    """The normalised reference appears inside the normalised answer (long answers that include it)."""
    ref = normalize(reference)
    return float(bool(ref) and f" {ref} " in f" {normalize(prediction)} ")


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


_ROUGE = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence), Porter-stemmed, from `rouge-score`."""
    global _ROUGE
    if _ROUGE is None:
        from rouge_score import rouge_scorer

        _ROUGE = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(_ROUGE.score(reference, prediction)["rougeL"].fmeasure)


def json_valid(prediction: str, reference: str) -> float:
    """The answer parses as JSON (a ```json fence around it is allowed)."""
    text = prediction.strip()
    fenced = _FENCE.match(text)
    try:
        json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        return 0.0
    return 1.0


PAIR_METRICS: dict[str, Callable[[str, str], float]] = {
    "exact": exact,
    "contains": contains,
    "f1": token_f1,
    "rougeL": rouge_l,
    "json": json_valid,
}
ALL_METRICS = [*PAIR_METRICS, "accuracy"]
DEFAULT_METRICS = ["exact", "contains", "f1", "rougeL"]


def parse_metrics(text: str | None, labels: list[str] | None) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()] if text else list(DEFAULT_METRICS)
    unknown = [m for m in names if m not in ALL_METRICS]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(ALL_METRICS)}")
    if "accuracy" in names and not labels:
        raise UserError("metric accuracy needs the label set: pass --labels yes,no (comma-separated)")
    if labels and "accuracy" not in names:
        names.append("accuracy")
    return names


def to_label(prediction: str, labels: list[str]) -> str | None:
    """The label an answer names: the whole normalised answer, else the label it starts with, else the
    first label word found in it (earliest position); None when it names none."""
    answer = normalize(prediction)
    normed = {normalize(label): label for label in labels}
    if answer in normed:
        return normed[answer]
    for norm, label in normed.items():
        if answer.startswith(norm + " "):
            return label
    hits = [(f" {answer} ".find(f" {norm} "), label) for norm, label in normed.items()]
    hits = [(pos, label) for pos, label in hits if pos >= 0]
    return min(hits)[1] if hits else None


def score_answers(
    predictions: list[str], references: list[str], metrics: list[str], labels: list[str] | None = None
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """(mean of each metric over the answers, per-example scores)."""
    per_example: list[dict[str, float]] = [{} for _ in predictions]
    for name in metrics:
        if name == "accuracy":
            continue
        for row, pred, ref in zip(per_example, predictions, references, strict=True):
            row[name] = PAIR_METRICS[name](pred, ref)
    means = {name: _mean([row[name] for row in per_example]) for name in metrics if name != "accuracy"}
    if "accuracy" in metrics and labels:
        means.update(_accuracy(predictions, references, labels, per_example))
    return means, per_example


def check_labels(references: list[str], labels: list[str]) -> None:
    """Every reference answer must name one of the labels, or accuracy has no gold answer to count."""
    for ref in references:
        if to_label(ref, labels) is None:
            raise UserError(
                f"reference answer {ref[:60]!r} is none of the labels {', '.join(labels)}; fix --labels"
            )


def _accuracy(
    predictions: list[str], references: list[str], labels: list[str], per_example: list[dict[str, float]]
) -> dict[str, float]:
    from sklearn.metrics import accuracy_score

    check_labels(references, labels)
    gold = [to_label(ref, labels) for ref in references]
    predicted = [to_label(pred, labels) or "<none>" for pred in predictions]
    for row, p, g in zip(per_example, predicted, gold, strict=True):
        row["accuracy"] = float(p == g)
    return {
        "accuracy": float(accuracy_score(gold, predicted)) if gold else 0.0,
        "off_label_rate": _mean([float(p == "<none>") for p in predicted]),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
