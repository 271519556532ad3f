import pytest

from thrifty.data.formats import detect_format, to_canonical
from thrifty.errors import UserError


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["instruction", "input", "output"], "alpaca"),
        (["instruction", "output"], "alpaca"),
        (["messages"], "chat"),
        (["conversations"], "sharegpt"),
        (["prompt", "completion"], "prompt_completion"),
        (["text", "id"], "text"),
    ],
)
def test_detects_format_from_columns(columns, expected):
    assert detect_format(columns, "auto", "f.jsonl") == expected


def test_unknown_columns_list_the_formats():
    with pytest.raises(UserError) as info:
        detect_format(["question", "answer"], "auto", "f.jsonl")
    message = str(info.value)
    assert "question" in message and "alpaca" in message and "data.format" in message


def test_forced_format_names_missing_columns():
    with pytest.raises(UserError, match="needs column\\(s\\) completion"):
        detect_format(["prompt", "text"], "prompt_completion", "f.jsonl")
    assert detect_format(["prompt", "text"], "text", "f.jsonl") == "text"


def test_alpaca_joins_instruction_and_input():
    example = to_canonical({"instruction": "Q", "input": "ctx", "output": "A"}, "alpaca", "r1")
    assert example["messages"] == [
        {"role": "user", "content": "Q\n\nctx"},
        {"role": "assistant", "content": "A"},
    ]


def test_sharegpt_roles_are_mapped():
    record = {
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": "Q"},
            {"from": "gpt", "value": "A"},
        ]
    }
    roles = [m["role"] for m in to_canonical(record, "sharegpt", "r1")["messages"]]
    assert roles == ["system", "user", "assistant"]


def test_chat_without_assistant_or_bad_role_is_refused():
    with pytest.raises(UserError, match="r7: conversation has no assistant"):
        to_canonical({"messages": [{"role": "user", "content": "Q"}]}, "chat", "r7")
    with pytest.raises(UserError, match="r8: each message needs role"):
        to_canonical({"messages": [{"role": "robot", "content": "Q"}]}, "chat", "r8")


def test_missing_value_names_record_and_column():
    with pytest.raises(UserError, match="f.jsonl: record 3: column 'output'"):
        to_canonical({"instruction": "Q", "output": None}, "alpaca", "f.jsonl: record 3")


def test_split_is_seeded_and_disjoint():
    from thrifty.data import split_examples

    items = list(range(100))
    train_a, eval_a = split_examples(items, 0.1, seed=1)
    train_b, eval_b = split_examples(items, 0.1, seed=1)
    _, eval_c = split_examples(items, 0.1, seed=2)
    assert (train_a, eval_a) == (train_b, eval_b) and eval_a != eval_c
    assert len(eval_a) == 10 and not set(eval_a) & set(train_a) and sorted(train_a + eval_a) == items
    with pytest.raises(UserError, match="at least 2 examples"):
        split_examples([1], 0.1, seed=1)
