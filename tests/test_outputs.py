"""Nothing of the user's is written over or deleted: the output-folder rules, by unit and through the
verbs that write folders (train, compare). Each case checks the folder is byte-for-byte as it was."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.errors import UserError
from thrifty.outputs import MARKER, check_output, claim_output, marker_kind, write_marker

FAST = ["--no-progress", "--max-steps", "1", "train.micro_batch_size=4", "data.max_seq_len=64"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its content hash: what must not change."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def users_folder(tmp_path) -> Path:
    """A folder of the user's that happens to hold names a run writes (config.yaml, adapter/, ...)."""
    folder = tmp_path / "mine"
    (folder / "adapter").mkdir(parents=True)
    (folder / "adapter" / "notes.txt").write_text("my notes")
    (folder / "config.yaml").write_text("mine: true\n")
    (folder / "metrics.jsonl").write_text('{"mine": 1}\n')
    (folder / "trainer").mkdir()
    (folder / "trainer" / "keep.bin").write_bytes(b"\x00\x01")
    return folder


def test_new_and_empty_folders_are_claimed_and_marked(tmp_path):
    new = claim_output(tmp_path / "a" / "b", "train")
    assert marker_kind(new) == "train"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert marker_kind(claim_output(empty, "compare")) == "compare"


def test_a_folder_without_the_marker_is_refused(users_folder):
    before = snapshot(users_folder)
    for overwrite in (False, True):
        with pytest.raises(UserError, match="not a thrifty folder"):
            claim_output(users_folder, "train", overwrite=overwrite)
    assert snapshot(users_folder) == before and not (users_folder / MARKER).exists()


def test_a_marked_folder_of_another_kind_is_refused(tmp_path):
    folder = claim_output(tmp_path / "sweep", "sweep")
    with pytest.raises(UserError, match="thrifty sweep folder, not a train one"):
        check_output(folder, "train", overwrite=True)


def test_overwrite_replaces_only_a_marked_folder(tmp_path):
    folder = claim_output(tmp_path / "run", "train")
    (folder / "old.txt").write_text("old")
    claim_output(folder, "train", overwrite=True)
    assert not (folder / "old.txt").exists() and marker_kind(folder) == "train"


@pytest.mark.parametrize("where", ["cwd", "parent of cwd", "home", "git", "data"])
def test_overwrite_never_replaces_protected_folders_even_when_marked(tmp_path, monkeypatch, where):
    folder = tmp_path / "run"
    folder.mkdir()
    write_marker(folder, "train")  # someone else's marker must not make these deletable
    protect = []
    if where == "cwd":
        monkeypatch.chdir(folder)
    elif where == "parent of cwd":
        (folder / "sub").mkdir()
        monkeypatch.chdir(folder / "sub")
    elif where == "home":
        monkeypatch.setenv("HOME", str(folder))
    elif where == "git":
        (folder / ".git").mkdir()
    else:
        protect = [folder / "data.jsonl"]
        protect[0].write_text("{}\n")
    before = snapshot(folder)
    with pytest.raises(UserError, match="refusing to replace"):
        claim_output(folder, "train", overwrite=True, protect=protect)
    assert snapshot(folder) == before


def test_root_is_never_replaceable():
    from thrifty.outputs import check_replaceable

    with pytest.raises(UserError, match="refusing to replace /"):
        check_replaceable(Path("/"))


def test_train_refuses_output_dot_and_leaves_the_directory_alone(
    tiny_model, alpaca_file, users_folder, monkeypatch
):
    monkeypatch.chdir(users_folder)
    before = snapshot(users_folder)
    for extra in ([], ["--overwrite"]):
        code = main(
            ["train", "--model", str(tiny_model), "--data", str(alpaca_file), "--output", ".", *FAST, *extra]
        )
        assert code == 2
    assert snapshot(users_folder) == before
    assert sorted(os.listdir(users_folder)) == ["adapter", "config.yaml", "metrics.jsonl", "trainer"]


def test_train_refuses_a_non_run_folder_with_one_line(tiny_model, alpaca_file, users_folder, capsys):
    before = snapshot(users_folder)
    argv = ["train", "--model", str(tiny_model), "--data", str(alpaca_file), "--output", str(users_folder)]
    assert main([*argv, *FAST, "--overwrite"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a thrifty folder" in err[0] and str(users_folder) in err[0]
    assert snapshot(users_folder) == before


def test_train_overwrite_refuses_a_run_folder_holding_its_data(tiny_model, alpaca_file, tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--model", str(tiny_model), "--output", str(run), *FAST]
    assert main([*argv, "--data", str(alpaca_file)]) == 0
    assert marker_kind(run) == "train"
    data = run / "data.jsonl"  # the user keeps their data inside the run folder
    data.write_bytes(alpaca_file.read_bytes())
    before = snapshot(run)
    assert main([*argv, "--data", str(data), "--overwrite"]) == 2
    assert snapshot(run) == before
    assert main([*argv, "--data", str(alpaca_file), "--overwrite"]) == 0  # the data elsewhere: replaced
    assert not data.exists() and json.loads((run / "summary.json").read_text())["steps"] == 1


def test_compare_refuses_a_non_thrifty_folder(tiny_model, alpaca_file, users_folder):
    before = snapshot(users_folder)
    argv = ["compare", "--model", str(tiny_model), "--data", str(alpaca_file), "--output", str(users_folder)]
    assert main([*argv, "--strategies", "lora", "--budget-steps", "1", "--no-progress"]) == 2
    assert snapshot(users_folder) == before
