"""Load a tokenizer and a causal LM the safe way: safetensors, no remote code unless asked."""

import torch

from thrifty.config.schema import ModelConfig
from thrifty.errors import UserError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def load_tokenizer(path: str, config: ModelConfig):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            path, revision=config.revision, trust_remote_code=config.trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise UserError(f"model {config.name!r}: cannot load its tokenizer ({_first_line(exc)})") from None
    if tokenizer.pad_token is None:
        # Padding positions are masked by length, so reusing EOS as pad never hides a real EOS label.
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(path: str, config: ModelConfig, quantization: str | None = None, random_init: bool = False):
    """The base model: pretrained weights (optionally 4/8-bit through bitsandbytes) or, for training
    from scratch, the same architecture randomly initialised (seed it before calling)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    common = {
        "trust_remote_code": config.trust_remote_code,
        "attn_implementation": config.attn_implementation,
    }
    try:
        if random_init:
            arch = AutoConfig.from_pretrained(
                path, revision=config.revision, trust_remote_code=config.trust_remote_code
            )
            return AutoModelForCausalLM.from_config(arch, dtype=DTYPES[config.dtype], **common)
        extra = _quantized(quantization) if quantization else {}
        return AutoModelForCausalLM.from_pretrained(
            path,
            revision=config.revision,
            dtype=DTYPES[config.dtype],
            use_safetensors=True,
            **common,
            **extra,
        )
    except (OSError, ValueError) as exc:
        raise UserError(f"model {config.name!r}: cannot load it ({_first_line(exc)})") from None


def _quantized(kind: str) -> dict:
    from transformers import BitsAndBytesConfig

    device = "cuda" if torch.cuda.is_available() else "cpu"  # bitsandbytes >= 0.49 runs both on CPU too
    compute = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if kind == "nf4":
        bnb = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
    else:
        bnb = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": bnb, "device_map": {"": device}}


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
