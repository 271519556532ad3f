"""Fold a LoRA/DoRA/IA3 adapter into its base with peft's `merge_and_unload` and save plain safetensors."""

import shutil
from pathlib import Path

from thrifty.errors import UserError
from thrifty.inference.run_folder import RunFolder, load_tokenizer_for, load_tuned
from thrifty.outputs import marker_kind

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
# peft methods whose weights fold into the base's linear layers; prompt-learning ones add virtual tokens.
MERGEABLE = {"LORA", "IA3", "LOHA", "LOKR", "ADALORA"}


def check_mergeable(run: RunFolder) -> None:
    kind = run.adapter_config().get("peft_type")
    if run.adapter_dir is not None and kind not in MERGEABLE:
        raise UserError(
            f"{run.adapter_dir}: a {kind} adapter adds virtual tokens and cannot be merged into the base; "
            f"merge and GGUF export need a weight adapter (lora, dora, rslora, qlora, ia3) or a full run"
        )


def merged_model(run: RunFolder, dtype: str = "fp32", device: str = "cpu"):
    """The fine-tuned model as one plain transformers model in `dtype` (adapter folded in), on `device`.

    Merging happens in fp32 (a bf16 base would round the sum twice), then the result is cast."""
    import torch

    check_mergeable(run)
    model = load_tuned(run, dtype="float32", device=device)
    if run.adapter_dir is not None:
        model = model.merge_and_unload()
    return model.to(getattr(torch, DTYPES[dtype])).eval()


def save_merged(run: RunFolder, out_dir: Path, dtype: str = "fp32", device: str = "cpu") -> Path:
    """Write the merged model (safetensors) and the run's tokenizer, chat template included, into `out_dir`
    (inside a claimed export folder); built in a sibling folder and renamed into place when complete.
    save_pretrained copies each tensor to host memory as it writes, so a model merged on a GPU saves too."""
    check_inside_export(out_dir)
    model = merged_model(run, dtype, device)
    tokenizer = load_tokenizer_for(run)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    replace_folder(tmp, out_dir)
    return out_dir


def replace_folder(built: Path, out_dir: Path) -> None:
    """`built` renamed to `out_dir`, over what an earlier export left there."""
    check_inside_export(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    built.rename(out_dir)


def check_inside_export(path: Path) -> None:
    """An export removes and replaces folders only inside a folder it claimed (its `.thrifty` marker says
    export), so nothing of the user's is ever deleted; anything else is a bug in the caller."""
    if not any(marker_kind(parent) == "export" for parent in Path(path).resolve().parents):
        raise RuntimeError(f"{path} is not inside a claimed export folder; refusing to replace it")
