"""Bad input for GGUF export is refused before any work, and the converter cache takes only what it needs."""

import io
import json
import shutil
import tarfile

import pytest

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.export.llama_cpp_tools import _extract


@pytest.fixture(scope="module")
def run_on_copy(tiny_model, tmp_path_factory):
    """A finished run whose base model folder we may edit afterwards."""
    root = tmp_path_factory.mktemp("gguf-input")
    base = shutil.copytree(tiny_model, root / "base")
    return train_tiny_run(base, write_faq(root / "faq.jsonl"), root / "run"), base


def test_unknown_quant_type_lists_the_known_ones(run_on_copy, capsys):
    run, _ = run_on_copy
    capsys.readouterr()
    assert main(["export", str(run), "--gguf", "q8_0,q9_9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown GGUF type q9_9; choose from f32, f16, bf16")
    assert "q4_k_m" in err and "q8_0" in err and err.count("\n") == 0
    assert not (run / "export").exists()


def test_unsupported_architecture_names_the_supported_ones(run_on_copy, capsys):
    run, base = run_on_copy
    config = json.loads((base / "config.json").read_text())
    (base / "config.json").write_text(json.dumps({**config, "architectures": ["FooForCausalLM"]}))
    try:
        assert main(["export", str(run), "--gguf", "f16"]) == 2
    finally:
        (base / "config.json").write_text(json.dumps(config))
    err = capsys.readouterr().err.strip()
    assert "architecture FooForCausalLM is not supported by llama.cpp's converter" in err
    assert "LlamaForCausalLM" in err and "Qwen2ForCausalLM" in err and err.count("\n") == 0
    assert not (run / "export").exists()


def test_ollama_needs_a_gguf_and_nothing_to_export_is_an_error(run_on_copy, capsys):
    run, _ = run_on_copy
    assert main(["export", str(run), "--ollama"]) == 2
    assert "--ollama writes a Modelfile for a GGUF" in capsys.readouterr().err
    assert main(["export", str(run)]) == 2
    assert "nothing to export" in capsys.readouterr().err


def test_tools_cache_takes_only_the_converters_and_no_links(tmp_path):
    archive = tmp_path / "llama_cpp_python-9.9.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in (
            "vendor/llama.cpp/convert_hf_to_gguf.py",
            "vendor/llama.cpp/gguf-py/gguf/__init__.py",
            "vendor/llama.cpp/conversion/llama.py",
            "vendor/llama.cpp/src/llama.cpp",
            "llama_cpp/__init__.py",
        ):
            info = tarfile.TarInfo(f"llama_cpp_python-9.9/{name}")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"x=1"))
        link = tarfile.TarInfo("llama_cpp_python-9.9/vendor/llama.cpp/conversion/evil.py")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    _extract(archive, tmp_path / "tools")
    got = sorted(
        str(p.relative_to(tmp_path / "tools")) for p in (tmp_path / "tools").rglob("*") if p.is_file()
    )
    assert got == ["conversion/llama.py", "convert_hf_to_gguf.py", "gguf-py/gguf/__init__.py"]
    assert not (tmp_path / "tools" / "conversion" / "evil.py").exists()


def test_open_gguf_turns_extra_buffers_off_on_amx_cpus_only(monkeypatch):
    """llama.cpp's AMX kernels segfault on quantized files here; the workaround must be scoped to one load."""
    import llama_cpp
    from llama_cpp import llama_cpp as lib

    from thrifty.export import llama_cpp_tools

    seen = []
    monkeypatch.setattr(llama_cpp, "Llama", lambda **kw: seen.append(lib.llama_model_default_params()) or kw)
    default = lib.llama_model_default_params
    for amx in (True, False):
        monkeypatch.setattr(llama_cpp_tools, "cpu_has_amx", lambda amx=amx: amx)
        assert llama_cpp_tools.open_gguf("m.gguf", n_ctx=8) == {"model_path": "m.gguf", "n_ctx": 8}
    assert [p.use_extra_bufts for p in seen] == [False, default().use_extra_bufts]
    assert default().use_extra_bufts and lib.llama_model_default_params is default
