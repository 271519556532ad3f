"""What each fine-tuning method is, as data: the one table the schema, planner, speed choices, sweeps,
compare and export read. No torch and no peft here, so validating a run config stays fast (~0.3 s).

The code that applies a method lives in its own module (lora.py, full.py, ...) and registers under the
same name; tests/methods check that the two tables name the same methods.
"""

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MethodInfo:
    description: str
    quantization: Literal["nf4", "int8"] | None = None  # the frozen base is loaded through bitsandbytes
    random_init: bool = False  # scratch: same architecture, weights not loaded
    adapter: bool = True  # saves a PEFT adapter; False saves the whole model (`model/`)
    trains_base: Literal["all", "some", "none"] = "none"  # base weights that get gradients
    low_rank: bool = False  # LoRA family: method.rank / alpha / dropout / target_modules apply
    padded_only: bool = False  # virtual tokens are prepended to each row: never packed


METHODS: dict[str, MethodInfo] = {
    "full": MethodInfo(
        "Full fine-tuning: every weight of the pretrained model trains.", adapter=False, trains_base="all"
    ),
    "scratch": MethodInfo(
        "Same architecture, randomly initialised, every weight trains (the baseline).",
        random_init=True,
        adapter=False,
        trains_base="all",
    ),
    "freeze": MethodInfo(
        "Train only the last N decoder layers (or named modules); the rest stays frozen.",
        adapter=False,
        trains_base="some",
    ),
    "lora": MethodInfo("Low-rank adapters on the chosen linear layers (peft LoRA).", low_rank=True),
    "rslora": MethodInfo("LoRA scaled by alpha/sqrt(r), so high ranks keep learning.", low_rank=True),
    "dora": MethodInfo(
        "Weight-decomposed LoRA: a learned magnitude beside the low-rank direction.", low_rank=True
    ),
    "qlora": MethodInfo(
        "LoRA on a 4-bit NF4 base with double quantization (bitsandbytes).", quantization="nf4", low_rank=True
    ),
    "lora8bit": MethodInfo(
        "LoRA on an 8-bit (LLM.int8) base (bitsandbytes).", quantization="int8", low_rank=True
    ),
    "ia3": MethodInfo(
        "IA3: learned vectors rescale keys, values and feed-forward activations (fewest parameters)."
    ),
    "prefix": MethodInfo("Prefix tuning: learned key/value prefixes at every layer.", padded_only=True),
    "prompt": MethodInfo(
        "Prompt tuning: learned embeddings of virtual tokens before the input.", padded_only=True
    ),
    "ptuning": MethodInfo(
        "P-tuning: virtual-token embeddings produced by a small trained encoder (MLP).", padded_only=True
    ),
}


def method_names() -> list[str]:
    return sorted(METHODS)


def method_info(name: str) -> MethodInfo:
    return METHODS[name]
