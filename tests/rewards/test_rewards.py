"""GRPO's rewards: the built-ins' numbers, module:function imports, and one-line refusals."""

import re

import pytest

from thrifty.errors import UserError
from thrifty.rewards import build_rewards, builtin_names


def score(name: str, completions, answers=None, limit: int = 8):
    (reward,) = build_rewards([name], None, limit)
    return reward.func(
        prompts=[""] * len(completions), completions=completions, answer=answers or [""] * len(completions)
    )


def test_builtins_score_against_the_reference():
    assert builtin_names() == ["contains", "exact", "f1", "json", "length"]
    assert score("exact", ["Paris", "paris.", "Lyon"], ["Paris"] * 3) == [1.0, 1.0, 0.0]
    assert score("contains", ["It is Paris.", "Lyon"], ["Paris"] * 2) == [1.0, 0.0]
    assert score("f1", ["big red car", "blue"], ["red car"] * 2) == [pytest.approx(0.8), 0.0]
    # Conversational completions (TRL's message lists) read as their text.
    assert score("exact", [[{"role": "assistant", "content": "Paris"}]], ["Paris"]) == [1.0]


def test_json_and_length():
    assert score("json", ['{"a": 1}', "{nope"]) == [1.0, 0.0]
    # Budget 8 -> no penalty up to 4 words, then -1 at 8 words and beyond.
    assert score("length", ["a b c d", "a b c d e f", "a " * 20]) == [0.0, -0.5, -1.0]


def test_module_function_rewards_and_their_errors(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(
        "def short(prompts, completions, **kw):\n    return [-len(c) for c in completions]\n"
        "def broken(prompts, completions, **kw):\n    raise KeyError('answer')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert score("my_rewards:short", ["ab", "abcd"]) == [-2.0, -4.0]
    with pytest.raises(UserError) as err:
        score("my_rewards:broken", ["x"])
    assert str(err.value) == "train.reward 'my_rewards:broken' raised KeyError: 'answer'"
    for spec, words in (
        ("my_rewards:missing", "has no function missing"),
        ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
        ("nope", "not a built-in (contains, exact, f1, json, length)"),
    ):
        with pytest.raises(UserError, match=re.escape(words)):
            build_rewards([spec], None, 8)
