"""The clean rules and the PII scrub on real FAQ text: planted duplicates are found (with the right row
they repeat), distinct real rows are not, Swedish rows are told from English ones."""

from collections import Counter

import pytest

from thrifty.curate.clean import dedup
from thrifty.curate.clean.filters import RULES, Row, Settings, ordered
from thrifty.curate.clean.filters.repetition import echoes_prompt, repeated_share
from thrifty.curate.clean.pii import DEFAULT_REGIONS, scrub_record, scrub_text
from thrifty.curate.rows import read_table

FAQ_EN = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"
FAQ_SV = "pkg:zaragoza_construction_faq/data/faq-alpaca.jsonl"


@pytest.fixture(scope="module")
def faq() -> list[dict]:
    return read_table(FAQ_EN).records


def change_words(text: str, n: int) -> str:
    """`text` with n words (spread out) replaced by "changed"."""
    words = text.split()
    for k in range(n):
        words[(k + 1) * len(words) // (n + 1)] = "changed"
    return " ".join(words)


def rows(records: list[dict]) -> list[Row]:
    return [Row(i, r["instruction"], r["output"]) for i, r in enumerate(records)]


def test_rules_register_in_the_fixed_order():
    assert [r.name for r in ordered()] == ["exact", "near-dup", "leakage", "length", "repetition", "language"]
    assert all(r.help for r in RULES.values())


def test_normalise_ignores_case_whitespace_and_punctuation():
    assert dedup.normalise("  What IS a Bygglov (building permit)?\n") == "what is a bygglov building permit"
    assert dedup.normalise("end.Start") == dedup.normalise("end. Start")


def test_planted_exact_and_near_duplicates_are_found_and_real_rows_are_not(faq):
    records = [dict(r) for r in faq[:100]]
    source = faq[5]
    shouty = {
        **source,
        "instruction": source["instruction"].upper() + "!!",
        "output": "  " + source["output"],
    }
    shouty["output"] = shouty["output"].replace(".", " ;").replace(" ", "   ")
    records.append(shouty)  # row 100: exact duplicate of row 5
    records.append({**faq[3], "output": change_words(faq[3]["output"], 1)})  # 101: near row 3
    records.append({**faq[0], "output": change_words(faq[0]["output"], 2)})  # 102: near row 0
    kept = rows(records)
    exact = RULES["exact"].apply(kept, Settings())
    assert [(r.row, r.duplicate_of) for r in exact] == [(100, 5)]
    kept = [r for r in kept if r.index != 100]
    near = RULES["near-dup"].apply(kept, Settings(near_dup=0.85))
    assert sorted((r.row, r.duplicate_of) for r in near) == [(101, 3), (102, 0)]
    assert all("Jaccard 0.8" in r.reason or "Jaccard 0.9" in r.reason for r in near)


def test_distinct_real_rows_are_not_near_duplicates_even_at_half_overlap(faq):
    texts = [f"{r['instruction']}\n{r['output']}" for r in faq]
    assert dedup.exact_duplicates(texts) == {}
    assert len(dedup.near_duplicates(texts, 0.5)) <= 2  # the FAQ's 503 rows: 0 found when written


def test_a_cluster_keeps_its_earliest_row_and_points_at_it(faq):
    base = faq[0]["output"]
    texts = [base, change_words(base, 1), base + " Indeed.", "something else entirely, about roofs"]
    found = dedup.near_duplicates(texts, 0.8)
    assert {i: j for i, (j, _) in found.items()} == {1: 0, 2: 0}


def test_near_dup_threshold_one_keeps_only_identical_shingles(faq):
    base = faq[0]["output"]
    found = dedup.near_duplicates([base, base.upper(), change_words(base, 1)], 1.0)
    assert list(found) == [1]  # the upper-cased copy has the same shingles; the changed one does not


def test_leakage_finds_eval_rows_copied_from_train(faq):
    train = rows(faq[:50])
    held = [
        Row(0, faq[60]["instruction"], faq[60]["output"]),
        Row(1, faq[7]["instruction"], faq[7]["output"]),
    ]
    held.append(Row(2, faq[12]["instruction"], change_words(faq[12]["output"], 1)))
    found = RULES["leakage"].apply(train, Settings(eval_rows=held))
    assert sorted((r.row, r.duplicate_of) for r in found) == [(7, 1), (12, 2)]
    assert RULES["leakage"].enabled(Settings()) is False  # no --eval, no rule


def test_length_counts_words_or_tokens():
    short = [
        Row(0, "q", "Yes."),
        Row(1, "q", "It is needed before tearing down."),
        Row(2, "q", "a b c d e f g"),
    ]
    found = RULES["length"].apply(short, Settings(min_answer_tokens=3, max_answer_tokens=6))
    assert [(r.row, r.reason) for r in found] == [(0, "answer 1 word (< 3)"), (2, "answer 7 words (> 6)")]
    chars = Settings(min_answer_tokens=5, count=lambda texts: [len(t) for t in texts], unit="tokens")
    assert [r.row for r in RULES["length"].apply(short, chars)] == [0]


def test_repetition_finds_loops_and_echoes_but_not_real_answers(faq):
    assert repeated_share("the cat sat the cat sat the cat sat the cat sat") > 0.5
    assert max(repeated_share(r["output"]) for r in faq) < 0.3
    assert echoes_prompt("How do I apply for a permit?", "how do I apply for a permit")
    assert not any(echoes_prompt(r["instruction"], r["output"]) for r in faq)
    looped = [Row(0, "q?", "Submit it. " * 8), Row(1, "What is a permit?", "What is a permit?")]
    found = RULES["repetition"].apply(looped + rows(faq[:20]), Settings())
    assert [(r.row, r.reason) for r in found] == [
        (0, "86% of the answer's word 3-grams repeat"),
        (1, "the answer repeats the prompt"),
    ]


def test_language_removes_the_swedish_rows_mixed_into_english(faq):
    swedish = read_table(FAQ_SV).records
    mixed = [faq[i] if i % 5 else swedish[i] for i in range(60)]  # rows 0, 5, 10, ... Swedish
    found = RULES["language"].apply(rows(mixed), Settings(langs=["en"]))
    assert [r.row for r in found] == list(range(0, 60, 5))
    assert all(r.reason == "language sv (not en)" for r in found)
    assert RULES["language"].apply(rows(mixed), Settings(langs=["en", "sv"])) == []


def test_pii_scrub_replaces_email_phone_and_iban_and_leaves_normal_text(faq):
    counts = Counter()
    text = (
        "Write to anna.svensson@example.se, call +46 70 123 45 67 or 040-123 45 67, and pay the fee "
        "to SE45 5000 0000 0583 9825 7466 by 2024-03-01."
    )
    assert scrub_text(text, DEFAULT_REGIONS, counts) == (
        "Write to [EMAIL], call [PHONE] or [PHONE], and pay the fee to [IBAN] by 2024-03-01."
    )
    assert counts == {"email": 1, "phone": 2, "iban": 1}
    bad_iban = "DE89 3704 0044 0532 0130 01"  # one check digit off
    assert scrub_text(bad_iban, DEFAULT_REGIONS, Counter()) == bad_iban
    counts = Counter()
    untouched = [r for r in faq[:100] if scrub_record(r, DEFAULT_REGIONS, counts) == r]
    assert len(untouched) == 100 and sum(counts.values()) == 0  # prices, dates, scales stay as they are


def test_pii_scrub_reaches_nested_messages():
    record = {"messages": [{"role": "user", "content": "mail me: a@b.org"}], "id": 7}
    counts = Counter()
    assert scrub_record(record, ("US",), counts) == {
        "messages": [{"role": "user", "content": "mail me: [EMAIL]"}],
        "id": 7,
    }
