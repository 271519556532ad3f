"""The one error path: a user's mistake is one line and exit 2; anything else is a bug and keeps its
traceback, followed by one line on where to report it."""

import thrifty.methods.table
from thrifty.cli import main
from thrifty.errors import EXIT_INTERNAL_ERROR, UserError


def test_an_internal_error_keeps_its_traceback_and_says_where_to_report(monkeypatch, capsys):
    def broken():
        raise RuntimeError("a bug deep inside")

    monkeypatch.setattr(thrifty.methods.table, "method_names", broken)
    assert main(["methods"]) == EXIT_INTERNAL_ERROR == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: a bug deep inside" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("internal error: RuntimeError is a bug in thrifty")
    assert "report it" in last and "torch " in last and "transformers " in last


def test_a_user_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def refuse():
        raise UserError("data.jsonl:3: malformed JSON; fix line 3")

    monkeypatch.setattr(thrifty.methods.table, "method_names", refuse)
    assert main(["methods"]) == 2
    assert capsys.readouterr().err == "error: data.jsonl:3: malformed JSON; fix line 3\n"
