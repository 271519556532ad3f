"""Post-training int8 of the merged model with bitsandbytes (LLM.int8, weights stored as int8 + scales),
with the size on disk and the perplexity change on the run's held-out data measured against the merged
full-precision model, so the user sees what the smaller file costs in quality."""

import shutil
from pathlib import Path
from typing import Any

from thrifty.export.card import card_text, write_card
from thrifty.inference.run_folder import RunFolder, load_tokenizer_for


def export_int8(
    run: RunFolder, merged_dir: Path, out_dir: Path, reference_dtype: str = "fp32", device: str = "cpu"
) -> dict[str, Any]:
    """Quantize `merged_dir` (a plain HF folder saved in `reference_dtype`) to int8 into `out_dir` (inside a
    claimed export folder), measuring both on `device`; returns sizes and the eval delta against that merge."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from thrifty.eval.perplexity import perplexity
    from thrifty.eval.runner import EvalOptions, load_eval_set
    from thrifty.export.merge import check_inside_export, replace_folder
    from thrifty.inference.device import place

    check_inside_export(out_dir)
    tokenizer = load_tokenizer_for(run)
    # bitsandbytes >= 0.49 runs int8 on CPU too; its device map places the model, so it is never moved.
    int8 = AutoModelForCausalLM.from_pretrained(
        merged_dir,
        quantization_config=BitsAndBytesConfig(load_in_8bit=True),
        device_map={"": device},
        dtype=torch.float32,
    ).eval()
    full = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32).eval()
    data = load_eval_set(run, EvalOptions(), tokenizer)
    ppl_full = perplexity(place(full, device), data.rows, tokenizer.pad_token_id)
    ppl_int8 = perplexity(int8, data.rows, tokenizer.pad_token_id)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    int8.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    report = {
        "method": "bitsandbytes LLM.int8 (load_in_8bit)",
        "reference_dtype": reference_dtype,  # the merge both the size and the perplexity are compared with
        "bytes": _weights_bytes(tmp),
        "full_precision_bytes": _weights_bytes(merged_dir),
        "perplexity_full": ppl_full["perplexity"],
        "perplexity_int8": ppl_int8["perplexity"],
        "perplexity_delta": ppl_int8["perplexity"] - ppl_full["perplexity"],
        "eval_tokens": ppl_full["tokens"],
        "eval_data": data.source,
    }
    report["size_ratio"] = report["bytes"] / max(report["full_precision_bytes"], 1)
    replace_folder(tmp, out_dir)
    notes = [
        *summary_lines(report),
        "loading needs bitsandbytes (the quantization config is stored in config.json)",
    ]
    usage = [f'AutoModelForCausalLM.from_pretrained("{out_dir}")  # bitsandbytes int8']
    files = sorted(p.name for p in out_dir.iterdir())
    write_card(out_dir, card_text(run, f"{run.name} (int8)", files, usage, notes))
    return report


def summary_lines(report: dict[str, Any]) -> list[str]:
    """Size and quality against the reference merge, for the model card and the terminal."""
    ref = report["reference_dtype"]
    return [
        f"int8 weights: {report['bytes'] / 1e6:.1f} MB vs {report['full_precision_bytes'] / 1e6:.1f} MB merged "
        f"{ref} ({report['size_ratio']:.2f}x)",
        f"held-out perplexity {report['perplexity_full']:.4f} ({ref}) -> {report['perplexity_int8']:.4f} (int8), "
        f"delta {report['perplexity_delta']:+.4f} on {report['eval_tokens']} answer tokens",
    ]


def _weights_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))
