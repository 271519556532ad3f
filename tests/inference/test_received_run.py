"""A run folder from someone else: it cannot turn on remote code (only --trust-remote-code can), and its
recorded base is a path on their machine (--base names ours). Through eval, export and generate alike."""

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main

QUICK_EVAL = ["--max-examples", "1", "--max-new-tokens", "2", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("received")
    return train_tiny_run(tiny_model, write_faq(root / "faq.jsonl"), root / "run")


def received(run: Path, into: Path, **model) -> Path:
    """A copy of `run` whose config.yaml's model section is changed as someone else's might be."""
    copy = into / "received"
    shutil.copytree(run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text())
    config["model"].update(model)
    (copy / "config.yaml").write_text(yaml.safe_dump(config))
    return copy


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def verbs(run: Path, out: Path) -> dict[str, list[str]]:
    """The three verbs that load a run's model, each writing (if at all) under `out` or the run."""
    return {
        "eval": ["eval", str(run), *QUICK_EVAL],
        "export": ["export", str(run), "--merge", "--output", str(out / "export")],
        "generate": ["generate", "--adapter", str(run / "adapter"), "--max-new-tokens", "2", "Hi?"],
    }


def one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_a_run_folder_asking_for_remote_code_is_refused_without_the_flag(verb, trained, tmp_path, capsys):
    run = received(trained, tmp_path, trust_remote_code=True)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(verbs(run, tmp_path)[verb]) == 2
    line = one_error_line(capsys)
    assert str(run) in line and "--trust-remote-code" in line and "trust_remote_code=true" in line
    assert snapshot(tmp_path) == before and not (tmp_path / "export").exists()


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_the_flag_lets_it_through(verb, trained, tmp_path, capsys, monkeypatch):
    """The tiny model ships no code, so with the flag it just loads; the loaders get the flag's value."""
    import thrifty.models.load as load

    run = received(trained, tmp_path, trust_remote_code=True)
    (run / "eval.json").unlink(missing_ok=True)
    (run / "eval.md").unlink(missing_ok=True)
    asked = []
    real = load.load_model

    def recording(path, config, *args, **kwargs):
        asked.append(config)
        return real(path, config, *args, **kwargs)

    monkeypatch.setattr(load, "load_model", recording)
    assert main([*verbs(run, tmp_path)[verb], "--trust-remote-code"]) == 0
    assert asked and all(config.trust_remote_code for config in asked)


def test_a_run_that_does_not_ask_never_gets_remote_code(trained):
    """The flag allows what a run asks for; it turns nothing on by itself."""
    from thrifty.inference.run_folder import open_run

    assert open_run(trained).config.model.trust_remote_code is False
    assert open_run(trained, trust_remote_code=True).config.model.trust_remote_code is False


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_a_recorded_base_missing_here_names_base(verb, trained, tmp_path, capsys):
    elsewhere = "/home/someone-else/models/tiny"
    run = received(trained, tmp_path, name=elsewhere)
    summary = json.loads((run / "summary.json").read_text())
    summary["model_path"] = summary["model"] = elsewhere
    (run / "summary.json").write_text(json.dumps(summary))
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(verbs(run, tmp_path)[verb]) == 2
    line = one_error_line(capsys)
    assert elsewhere in line and "--base MODEL" in line and str(run) in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("verb", ["eval", "export", "generate"])
def test_base_points_at_this_machines_copy(verb, trained, tiny_model, tmp_path, capsys):
    elsewhere = "/home/someone-else/models/tiny"
    run = received(trained, tmp_path, name=elsewhere, revision="abc123")
    summary = json.loads((run / "summary.json").read_text())
    summary["model_path"] = elsewhere
    (run / "summary.json").write_text(json.dumps(summary))
    for name in ("eval.json", "eval.md"):
        (run / name).unlink(missing_ok=True)
    assert main([*verbs(run, tmp_path)[verb], "--base", str(tiny_model)]) == 0
    if verb == "export":
        assert (tmp_path / "export" / "merged" / "model.safetensors").is_file()


def test_generate_loads_the_base_the_adapters_run_trained(trained, capsys):
    """Without --model, RUN/adapter answers on its own run's base (not a default model it never saw)."""
    capsys.readouterr()
    assert (
        main(["generate", "--adapter", str(trained / "adapter"), "--max-new-tokens", "2", "--json", "Hi?"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["prompt"] == "Hi?"
