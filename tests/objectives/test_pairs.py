"""Preference data: strings and chat lists read as pairs; bad pairs are one line, exit 2, nothing trained."""

import pytest

from tests.objectives.conftest import dpo_args, write_jsonl
from thrifty.cli import main
from thrifty.config.schema import DataConfig
from thrifty.data.preference import load_pairs
from thrifty.errors import EXIT_USER_ERROR


def test_strings_and_message_lists_become_the_same_pairs(tmp_path):
    rows = [
        {"prompt": "Q?", "chosen": "yes", "rejected": "no"},
        {
            "prompt": [{"role": "user", "content": "Q?"}],
            "chosen": [{"role": "assistant", "content": "yes"}],
            "rejected": [{"role": "assistant", "content": "no"}],
        },
    ]
    pairs, dropped = load_pairs(str(write_jsonl(tmp_path / "p.jsonl", rows)), DataConfig())
    assert dropped == 0 and pairs[0] == pairs[1]


def test_identical_pairs_are_dropped_and_counted(tmp_path):
    rows = [
        {"prompt": "Q?", "chosen": "same", "rejected": "same"},
        {"prompt": "Q?", "chosen": "a", "rejected": "b"},
    ]
    pairs, dropped = load_pairs(str(write_jsonl(tmp_path / "p.jsonl", rows)), DataConfig())
    assert dropped == 1 and len(pairs) == 1


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([{"prompt": "Q?", "chosen": "a"}], ["record 1", "'rejected'"]),
        (
            [{"prompt": "Q?", "chosen": "a", "rejected": "b"}, {"prompt": "Q?", "rejected": "b"}],
            ["record 2", "'chosen'"],
        ),
        ([{"prompt": "Q?", "chosen": "a", "rejected": "a"}] * 3, ["all 3 pairs", "identical"]),
        (
            [{"prompt": "Q?", "chosen": [{"role": "bot", "content": "a"}], "rejected": "b"}],
            ["record 1: chosen", "role"],
        ),
    ],
)
def test_bad_pairs_exit_2_with_one_line_naming_the_file(tiny_model, tmp_path, capsys, rows, words):
    data = write_jsonl(tmp_path / "bad.jsonl", rows)
    out = tmp_path / "run"
    assert main(dpo_args(tiny_model, data, out)) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(data) in err[0], err
    assert all(w in err[0] for w in words), err[0]
    assert not (out / "summary.json").exists() and not (out / "adapter").exists()
