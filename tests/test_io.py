"""thrifty.io's atomic JSON write under concurrent writers."""

import json
import threading

import pytest

from thrifty.io import write_json_atomic


def test_concurrent_writers_never_leave_a_torn_file_or_a_temporary(tmp_path):
    # On the old code every writer shared `summary.json.tmp`: two threads interleaved in it or one
    # renamed it away under the other (FileNotFoundError), leaving torn JSON or a stray temporary.
    path = tmp_path / "summary.json"
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(40):
                write_json_atomic(path, {"worker": worker, "i": i, "pad": "x" * 20000})
        except BaseException as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert json.loads(path.read_text())["i"] == 39
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "summary.json"
    write_json_atomic(path, {"ok": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {(1, 2): 3})  # a tuple key fails half-way through json.dump
    assert json.loads(path.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
