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


def load_model(path: str, config: ModelConfig):
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(
            path,
            revision=config.revision,
            dtype=DTYPES[config.dtype],
            trust_remote_code=config.trust_remote_code,
            attn_implementation=config.attn_implementation,
            use_safetensors=True,
        )
    except (OSError, ValueError) as exc:
        raise UserError(f"model {config.name!r}: cannot load it ({_first_line(exc)})") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
