"""What an export refuses before any work (files it would overwrite, missing optional packages), what a
failed converter leaves behind, and which SYSTEM message the Modelfile gets."""

import sys
from importlib.metadata import PackageNotFoundError
from pathlib import Path

import pytest

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.export import gguf
from thrifty.export.runner import ExportOptions, _ollama, file_stem
from thrifty.inference.run_folder import open_run
from thrifty.outputs import MARKER, write_marker


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("export-guards")
    return train_tiny_run(tiny_model, write_faq(root / "faq.jsonl"), root / "run")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_a_second_gguf_export_does_not_rewrite_the_folder_card(run, tmp_path, capsys, monkeypatch):
    """A first `--gguf q8_0` left gguf/README.md; `--gguf q4_k_m` into the same folder must not replace it."""
    write_marker(tmp_path, "export")  # the folder the first export claimed
    card = tmp_path / "gguf" / "README.md"
    card.parent.mkdir()
    card.write_text("card of the first export\n")
    # Were the guard to miss the card, the export would start converting: fail loudly instead.
    monkeypatch.setattr(gguf, "write_gguf_set", lambda *a: pytest.fail("converted despite the guard"))
    capsys.readouterr()
    assert main(["export", str(run), "--gguf", "q4_k_m", "--output", str(tmp_path)]) == 2
    err = _one_line(capsys)
    assert f"{card} exists" in err and "--force" in err
    assert card.read_text() == "card of the first export\n"
    assert sorted(p.name for p in tmp_path.rglob("*")) == [MARKER, "README.md", "gguf"]


def test_gguf_adapter_card_and_modelfile_are_guarded_too(run, tmp_path, capsys):
    write_marker(tmp_path, "export")
    folder = tmp_path / "gguf-adapter"
    folder.mkdir()
    (folder / "Modelfile").write_text("FROM ./old.gguf\n")
    capsys.readouterr()
    argv = ["export", str(run), "--gguf-adapter", "--ollama", "--output", str(tmp_path)]
    assert main(argv) == 2
    assert f"{folder / 'Modelfile'} exists" in _one_line(capsys)
    (folder / "Modelfile").unlink()
    (folder / "README.md").write_text("old\n")
    assert main(argv) == 2
    assert f"{folder / 'README.md'} exists" in _one_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md"]


def test_an_existing_int8_folder_is_refused_before_any_work(run, tmp_path, capsys, monkeypatch):
    import thrifty.export.merge as merge

    write_marker(tmp_path, "export")
    (tmp_path / "int8").mkdir()
    (tmp_path / "int8" / "README.md").write_text("old int8 card\n")
    monkeypatch.setattr(merge, "save_merged", lambda *a: pytest.fail("merged despite the guard"))
    capsys.readouterr()
    assert main(["export", str(run), "--int8", "--output", str(tmp_path)]) == 2
    err = _one_line(capsys)
    assert f"{tmp_path / 'int8'} exists" in err and "--force" in err
    assert (tmp_path / "int8" / "README.md").read_text() == "old int8 card\n"


def test_gguf_without_llama_cpp_names_the_extra(run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError
    capsys.readouterr()
    assert main(["export", str(run), "--gguf", "q8_0"]) == 2
    err = _one_line(capsys)
    assert "llama-cpp-python" in err and "pip install 'thrifty[export]'" in err
    assert not (run / "export").exists()


def test_gguf_adapter_without_llama_cpp_names_the_extra(run, capsys, monkeypatch):
    import thrifty.export.llama_cpp_tools as tools

    def missing(name):
        raise PackageNotFoundError(name)

    monkeypatch.delenv("THRIFTY_LLAMA_CPP_TOOLS", raising=False)
    monkeypatch.setattr(tools, "version", missing)
    capsys.readouterr()
    assert main(["export", str(run), "--gguf-adapter"]) == 2
    assert "pip install 'thrifty[export]'" in _one_line(capsys)


def _failing_converter(monkeypatch, tmp_path: Path) -> None:
    """The converter writes part of its output file, then fails (as a crash or a bad tensor would)."""

    def run_script(folder, script, args):
        Path(args[args.index("--outfile") + 1]).write_bytes(b"GGUF half")
        raise RuntimeError(f"llama.cpp {script} failed (exit 1):\nboom")

    monkeypatch.setattr(gguf, "check_architecture", lambda model_dir: "LlamaForCausalLM")
    monkeypatch.setattr(gguf, "ensure_tools", lambda: tmp_path)
    monkeypatch.setattr(gguf, "run_script", run_script)


def test_a_failed_conversion_leaves_no_partial_file(tmp_path, monkeypatch):
    _failing_converter(monkeypatch, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError, match="convert_hf_to_gguf.py failed"):
        gguf.convert_model(tmp_path, out / "m-f16.gguf", "f16")
    with pytest.raises(RuntimeError, match="convert_lora_to_gguf.py failed"):
        gguf.convert_adapter(tmp_path, tmp_path, out / "m-lora-f16.gguf")
    assert list(out.iterdir()) == []


def _modelfile_system(run_dir: Path, folder: Path, system: str | None) -> str | None:
    run = open_run(run_dir)
    folder.mkdir()
    result = {"commands": []}
    options = ExportOptions(gguf=["q8_0"], ollama=True, system=system)
    _ollama(run, folder, folder / "m-q8_0.gguf", None, options, result, file_stem(run))
    lines = [line for line in (folder / "Modelfile").read_text().splitlines() if line.startswith("SYSTEM")]
    return lines[0] if lines else None


def test_modelfile_system_is_flag_then_run_system_prompt_then_template(run, tiny_model, tmp_path):
    prompted = train_tiny_run(
        tiny_model,
        write_faq(tmp_path / "faq.jsonl"),
        tmp_path / "prompted",
        "lora",
        "data.system_prompt=Be brief.",
    )
    assert _modelfile_system(prompted, tmp_path / "a", None) == 'SYSTEM """Be brief."""'
    assert (
        _modelfile_system(prompted, tmp_path / "b", "Answer in Swedish.") == 'SYSTEM """Answer in Swedish."""'
    )
    # No flag, no system prompt: the tiny ChatML template has no default system text, so no SYSTEM line.
    assert _modelfile_system(run, tmp_path / "c", None) is None
