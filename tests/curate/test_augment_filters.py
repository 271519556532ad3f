"""The augment quality filter on planted candidates (one per rejection reason, and good rewrites it must
keep), and the cleaning of a generator's output around its rewrite."""

import pytest

from thrifty.curate.augment.filters import REASONS, Limits, clean_generated, normalise, rejection, terms

QUESTION = "How do I apply for a building permit in the city?"
ANSWER = "Submit the application to the municipality."
OTHER_ROWS = {normalise("What is a demolition permit?")}


def judge(candidate, original=QUESTION, answer=ANSWER, near_copies_ok=False):
    return rejection(candidate, original, answer, set(OTHER_ROWS), Limits(), near_copies_ok)


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Rewrite this question with different words: how do I apply for a permit?", "echo"),
        ("how do I apply for a building permit in the city", "identical"),  # case and '?' do not count
        ("HOW do I  apply for a building-permit in the city?", "identical"),
        ("What is a demolition permit?", "duplicate"),  # another row's prompt: two answers to one prompt
        ("How do I apply? Submit the application to the municipality.", "leaks_answer"),
        ("You apply for a building permit at the city office.", "not_a_question"),
        ("Permit?", "too_short"),
        (
            "How exactly do I go about applying for a building permit in the city, and which office and "
            "which forms and which fees are involved in the whole process from the start to the end?",
            "too_long",
        ),
        ("How do I apply for building permits in the city?", "too_similar"),  # difflib ratio 0.97
        ("Which colour should the new kitchen cabinets be painted?", "too_different"),
    ],
)
def test_rejects_planted_candidates(candidate, reason):
    assert reason in REASONS
    assert judge(candidate) == reason


@pytest.mark.parametrize(
    "candidate",
    [
        "What is the process for getting a building permit in the city?",
        "How can I request a construction permit from the city?",
        "How do I apply for a building permit in the town?",  # one word: ratio 0.94, under the 0.95 ceiling
    ],
)
def test_keeps_real_rewrites(candidate):
    assert judge(candidate) is None


def test_terms_are_what_a_rewrite_must_keep():
    assert terms("What is a kontrollansvarig (KA, responsible supervisor)?") == {"kontrollansvarig", "ka"}
    assert terms("Can two people get 100,000 SEK ROT combined?") == {"two", "100", "000", "sek", "rot"}
    # Plain endings, possessives, British spellings and hyphenated words are ordinary English.
    assert terms("Which drawings applied to my neighbour's new-build houses?") == set()


@pytest.mark.parametrize(
    ("original", "candidate"),
    [
        ("What is a bygglov (building permit)?", "What is a byggløv (construction permit)?"),  # misspelt
        ("What is a bygglov (building permit)?", "What does a building permit mean?"),  # dropped
        ("Does ROT apply to an attefallshus?", "Does the tax rebate cover an attefallshus?"),  # acronym
        ("May I build 4.5 m from the fence?", "May I build 5 metres from the fence?"),  # a number changed
        ("Can I have two attefallshus?", "What about three attefallshus?"),  # seen from SmolLM2-135M
    ],
)
def test_a_rewrite_that_loses_a_term_is_rejected(original, candidate):
    assert rejection(candidate, original, "Yes.", set(), Limits()) == "lost_term"


def test_a_rewrite_that_keeps_its_terms_passes():
    candidate = "What exactly is a bygglov (a construction permit)?"
    assert rejection(candidate, "What is a bygglov (building permit)?", "A permit.", set(), Limits()) is None


def test_a_candidate_already_kept_is_a_duplicate():
    taken = {normalise("What is the process for getting a building permit in the city?")}
    candidate = "What is the process for getting a building permit in the city?"
    assert rejection(candidate, QUESTION, ANSWER, taken, Limits()) == "duplicate"


def test_short_answers_do_not_count_as_leaks():
    # "Yes." is in many honest questions; only answers of 3+ words are looked for.
    assert judge("Is the answer yes or no for a city building permit?", answer="Yes.") is None


def test_synonym_swaps_may_be_near_copies():
    near = "How do I apply for a building permit in this city?"
    assert judge(near) == "too_similar" and judge(near, near_copies_ok=True) is None
    assert judge(QUESTION, near_copies_ok=True) == "identical"


def test_instructions_need_no_question_mark():
    original = "Write a short story about a dragon."
    assert rejection("Compose a brief tale about a dragon.", original, "Once...", set(), Limits()) is None


@pytest.mark.parametrize(
    ("original", "candidate", "reason"),
    [
        # SmolLM2-135M on the FAQ: the worked example's car and street, not the question.
        (
            "Can I appeal a denied building permit?",
            "Can I adjust my car's license plate on the street?",
            "echo",
        ),
        # Alike enough in letters (difflib 0.4), but no content word left.
        (
            "How long does it take to get a building permit?",
            "Can you open a door in the city?",
            "too_different",
        ),
    ],
)
def test_rejects_what_the_small_model_wrote(original, candidate, reason):
    assert rejection(candidate, original, "It depends.", set(), Limits()) == reason


def test_every_worked_example_has_a_topic_the_filter_knows():
    from thrifty.curate.augment.prompts import EXAMPLES, PARAPHRASE, SHOT_TOPICS

    texts = [t for _, shots in PARAPHRASE.values() for pair in shots for t in pair]
    texts += [t for by_language in EXAMPLES.values() for t in by_language["en"]]
    assert all(SHOT_TOPICS & set(normalise(t).split()) for t in texts)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (
            "Here is the rewritten question:\nWhat is the process for a permit?",
            "What is the process for a permit?",
        ),
        ("Rewritten question: What is the process for a permit?", "What is the process for a permit?"),
        ('"What is the process for a permit?"', "What is the process for a permit?"),
        ("**Question:** What is the process?", "What is the process?"),
        ("What is the process? You submit an application and wait.", "What is the process?"),
        ("Sure!\n\n1. What is the process for a permit?\n2. How?", "What is the process for a permit?"),
        ("The process takes ten weeks.\nWhat is the process?", "What is the process?"),
        ("The process takes ten weeks.", "The process takes ten weeks."),  # then rejected: not a question
        ("", ""),
    ],
)
def test_cleans_a_questions_rewrite(raw, clean):
    assert clean_generated(raw, QUESTION) == clean


def test_cleans_an_instructions_rewrite_to_its_first_line():
    raw = "Here's a rewrite:\nCompose a brief poem about the ocean.\nI hope this helps!"
    assert (
        clean_generated(raw, "Write a short poem about the sea.") == "Compose a brief poem about the ocean."
    )


def test_a_two_part_question_keeps_both_parts():
    raw = "Who signs it? And when? It is signed by the board."
    assert clean_generated(raw, "Who signs the permit? When?") == "Who signs it? And when?"
