"""Nothing of the user's is written over or deleted by an export: it writes only into a new or empty
folder, or one an export marked (.thrifty), and --force replaces only what it writes there."""

import hashlib
from pathlib import Path

import pytest

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.outputs import MARKER, marker_kind, write_marker


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("export-folder")
    return train_tiny_run(tiny_model, write_faq(root / "faq.jsonl"), root / "run")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under `folder`, files with their content hash: what must not change."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def users_folder(tmp_path) -> Path:
    """A folder of the user's holding the very names an export writes."""
    folder = tmp_path / "mine"
    (folder / "merged").mkdir(parents=True)
    (folder / "merged" / "model.safetensors").write_bytes(b"my own weights")
    (folder / "int8").mkdir()
    (folder / "notes.txt").write_text("keep me")
    return folder


def one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("force", [False, True])
def test_output_into_a_folder_of_the_users_is_refused_and_untouched(run, users_folder, force, capsys):
    before = snapshot(users_folder)
    capsys.readouterr()
    argv = ["export", str(run), "--merge", "--int8", "--output", str(users_folder)]
    assert main(argv + (["--force"] if force else [])) == 2
    line = one_error_line(capsys)
    assert str(users_folder) in line and "not a thrifty folder" in line and "--output" in line
    assert snapshot(users_folder) == before and not (users_folder / MARKER).exists()


def test_output_into_a_run_folder_is_refused(run, capsys):
    before = snapshot(run)
    capsys.readouterr()
    assert main(["export", str(run), "--merge", "--output", str(run), "--force"]) == 2
    assert "thrifty train folder, not an export one" in one_error_line(capsys)
    assert snapshot(run) == before


def test_a_new_folder_is_claimed_and_force_replaces_only_what_export_wrote(run, tmp_path, capsys):
    out = tmp_path / "shipped"
    assert main(["export", str(run), "--merge", "--output", str(out)]) == 0
    assert marker_kind(out) == "export" and (out / "merged" / "model.safetensors").is_file()
    (out / "my-notes.txt").write_text("written after the export")
    first = (out / "merged" / "model.safetensors").stat().st_mtime_ns
    assert main(["export", str(run), "--merge", "--output", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["export", str(run), "--merge", "--output", str(out), "--force"]) == 0
    assert (out / "merged" / "model.safetensors").stat().st_mtime_ns != first
    assert (out / "my-notes.txt").read_text() == "written after the export"  # --force replaced merged/ only
    assert marker_kind(out) == "export"


def test_an_empty_folder_is_claimed(run, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["export", str(run), "--merge", "--output", str(out)]) == 0
    assert marker_kind(out) == "export" and (out / "merged").is_dir()


def test_the_default_folder_is_claimed_and_an_older_unmarked_one_kept(run, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    assert main(["export", str(copy), "--merge"]) == 0
    assert marker_kind(copy / "export") == "export"
    # RUN/export as an export wrote it before the markers: still thrifty's, so --force may replace merged/.
    (copy / "export" / MARKER).unlink()
    assert main(["export", str(copy), "--merge", "--force"]) == 0
    assert marker_kind(copy / "export") == "export"


def test_merge_and_int8_never_replace_a_folder_outside_a_claimed_export(run, users_folder):
    """The writers themselves refuse, so no caller can make them delete a folder of the user's."""
    from thrifty.export.int8 import export_int8
    from thrifty.export.merge import save_merged
    from thrifty.inference.run_folder import open_run

    before = snapshot(users_folder)
    opened = open_run(run)
    with pytest.raises(RuntimeError, match="not inside a claimed export folder"):
        save_merged(opened, users_folder / "merged")
    with pytest.raises(RuntimeError, match="not inside a claimed export folder"):
        export_int8(opened, users_folder / "merged", users_folder / "int8")
    assert snapshot(users_folder) == before
    write_marker(users_folder, "train")  # a run's marker is not an export's
    with pytest.raises(RuntimeError, match="not inside a claimed export folder"):
        save_merged(opened, users_folder / "merged")
