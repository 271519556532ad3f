import json

import pytest
import torch

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.inference.run_folder import load_tuned, open_run


@pytest.fixture(scope="module")
def faq(tmp_path_factory):
    return write_faq(tmp_path_factory.mktemp("merge-data") / "faq.jsonl")


@pytest.mark.parametrize("method", ["lora", "dora", "ia3"])
def test_merged_logits_equal_base_plus_adapter(method, tiny_model, faq, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = train_tiny_run(tiny_model, faq, tmp_path / method, method)
    assert main(["export", str(run), "--merge", "--dtype", "fp32"]) == 0
    merged_dir = run / "export" / "merged"
    merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    peft_model = load_tuned(open_run(run))
    tokenizer = AutoTokenizer.from_pretrained(merged_dir)
    batch = tokenizer(["How do I apply for a building permit?", "Permit?"], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = peft_model(**batch).logits
        got = merged(**batch).logits
        with peft_model.disable_adapter():
            base = peft_model(**batch).logits
    assert (expected - base).abs().max() > 1e-3  # the adapter moved the logits, so the check below bites
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert not any("lora" in k or "ia3" in k for k in merged.state_dict())  # plain model, adapter folded in
    # Tokenizer and chat template travel with the weights; the card names the method.
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    card = (merged_dir / "README.md").read_text()
    assert f"with **{method}**" in card and "## Training cost" in card


def test_merge_dtypes_and_overwrite_guard(tiny_model, faq, tmp_path, capsys):
    run = train_tiny_run(tiny_model, faq, tmp_path / "run")
    assert main(["export", str(run), "--merge", "--dtype", "bf16", "--output", str(tmp_path / "bf16")]) == 0
    config = json.loads((tmp_path / "bf16" / "merged" / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    fp32 = tmp_path / "fp32"
    assert main(["export", str(run), "--merge", "--output", str(fp32)]) == 0
    size = lambda d: (d / "merged" / "model.safetensors").stat().st_size  # noqa: E731
    assert 1.9 < size(fp32) / size(tmp_path / "bf16") < 2.1  # 4 bytes vs 2 per weight
    # A second export into the same folder is refused without --force, and nothing is touched.
    before = (fp32 / "merged" / "model.safetensors").stat().st_mtime_ns
    assert main(["export", str(run), "--merge", "--output", str(fp32)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (fp32 / "merged" / "model.safetensors").stat().st_mtime_ns == before
    assert main(["export", str(run), "--merge", "--output", str(fp32), "--force"]) == 0
    assert main(["export", str(run), "--merge", "--dtype", "int3"]) == 2
    assert "choose from fp32, bf16, fp16" in capsys.readouterr().err


def test_runs_that_cannot_be_merged_or_lack_an_adapter(tiny_model, faq, tmp_path, capsys):
    prefix = train_tiny_run(tiny_model, faq, tmp_path / "prefix", "prefix")
    assert main(["export", str(prefix), "--merge"]) == 2
    assert "cannot be merged" in capsys.readouterr().err
    full = train_tiny_run(tiny_model, faq, tmp_path / "full", "full")
    capsys.readouterr()
    assert main(["export", str(full), "--gguf-adapter"]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no adapter/" in err and err.count("\n") == 0
    # A folder without weights at all.
    (tmp_path / "empty").mkdir()
    for name in ("config.yaml", "summary.json"):
        (tmp_path / "empty" / name).write_text((full / name).read_text())
    assert main(["export", str(tmp_path / "empty"), "--merge"]) == 2
    assert "neither adapter" in capsys.readouterr().err


def test_int8_export_reports_size_and_perplexity_delta(tiny_model_wide, faq, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    run = train_tiny_run(tiny_model_wide, faq, tmp_path / "run")
    capsys.readouterr()
    assert main(["export", str(run), "--int8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["int8"]
    assert report["bytes"] < 0.8 * report["full_precision_bytes"]  # linear layers 1 byte/weight instead of 4
    # int8 rounding barely moves a small model's held-out perplexity.
    assert abs(report["perplexity_delta"]) < 0.05 * report["perplexity_full"]
    folder = run / "export" / "int8"
    reloaded = AutoModelForCausalLM.from_pretrained(folder)
    assert any("Linear8bitLt" in type(m).__name__ for m in reloaded.modules())
    assert "perplexity" in (folder / "README.md").read_text()
    assert report["reference_dtype"] == "fp32"
    # Against a bf16 merge: the terminal gets the size and the perplexity delta, labelled bf16, not fp32.
    out = tmp_path / "bf16"
    assert main(["export", str(run), "--merge", "--dtype", "bf16", "--int8", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'int8'}" in printed
    assert "MB merged bf16 (" in printed and "(bf16) ->" in printed and "delta " in printed
    card = (out / "int8" / "README.md").read_text()
    assert "MB merged bf16" in card and "(bf16) ->" in card and "merged fp32" not in card


@pytest.mark.parametrize("method", ["dora", "ia3"])
def test_gguf_adapter_refuses_adapters_llama_cpp_cannot_apply(method, tiny_model, faq, tmp_path, capsys):
    run = train_tiny_run(tiny_model, faq, tmp_path / method, method)
    capsys.readouterr()
    assert main(["export", str(run), "--gguf-adapter"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "plain LoRA adapters only" in err
    assert ("DoRA" if method == "dora" else "IA3") in err and "--gguf" in err
    assert not (run / "export").exists()
