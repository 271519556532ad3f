import pytest

from thrifty.errors import UserError
from thrifty.eval.metrics import (
    contains,
    exact,
    json_valid,
    normalize,
    parse_metrics,
    rouge_l,
    score_answers,
    to_label,
    token_f1,
)


def test_squad_normalisation_exact_and_contains():
    assert normalize("The  Permit, please!") == "permit please"
    assert exact("the Municipality.", "municipality") == 1.0
    assert exact("a municipality office", "municipality") == 0.0
    assert contains("Submit it to the municipality office.", "Municipality") == 1.0
    # Whole words only: "permit" is not inside "permits".
    assert contains("Two permits are needed.", "permit") == 0.0


def test_token_f1_matches_hand_count():
    # prediction tokens: submit application to municipality (4); reference: submit to municipality (3);
    # overlap 3 -> precision 3/4, recall 1 -> F1 = 2*0.75/(1.75)
    assert token_f1("Submit the application to the municipality", "submit to municipality") == pytest.approx(
        2 * 0.75 / 1.75
    )
    assert token_f1("nothing here", "municipality") == 0.0
    assert token_f1("", "") == 1.0


def test_rouge_l_from_rouge_score():
    # LCS of "a b c d" vs "a c d e" is "a c d" (3): P = R = 3/4.
    assert rouge_l("w1 w2 w3 w4", "w1 w3 w4 w5") == pytest.approx(0.75)
    assert rouge_l("same words", "same words") == pytest.approx(1.0)


def test_json_validity_allows_a_fence():
    assert json_valid('{"a": 1}', "") == 1.0
    assert json_valid('```json\n{"a": [1, 2]}\n```', "") == 1.0
    assert json_valid("{'a': 1}", "") == 0.0


def test_labels_and_accuracy():
    labels = ["yes", "no", "maybe"]
    assert to_label("Yes.", labels) == "yes"
    assert to_label("No, because the law says so", labels) == "no"
    assert to_label("I think maybe, or no", labels) == "maybe"  # earliest label word wins
    assert to_label("unclear", labels) is None
    means, rows = score_answers(["Yes.", "no", "dunno"], ["yes", "yes", "no"], ["exact", "accuracy"], labels)
    assert means["accuracy"] == pytest.approx(1 / 3) and means["off_label_rate"] == pytest.approx(1 / 3)
    assert [r["accuracy"] for r in rows] == [1.0, 0.0, 0.0]
    assert means["exact"] == pytest.approx(1 / 3)


def test_metric_names_are_checked():
    assert parse_metrics(None, None) == ["exact", "contains", "f1", "rougeL"]
    assert parse_metrics("f1", ["a", "b"]) == ["f1", "accuracy"]
    with pytest.raises(UserError, match="unknown metric"):
        parse_metrics("bleu", None)
    with pytest.raises(UserError, match="--labels"):
        parse_metrics("accuracy", None)
    with pytest.raises(UserError, match="none of the labels"):
        score_answers(["yes"], ["perhaps"], ["accuracy"], ["yes", "no"])
