"""Load a tokenizer and a causal LM the safe way: safetensors, no remote code unless asked."""

import re
import sys

import torch

from thrifty.config.schema import ModelConfig
from thrifty.errors import UserError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

# bitsandbytes quantizes 4-bit weights in blocks of 64 along each row (in_features). Its CPU
# AVX512-BF16 inference path reshapes the block scales to (out, in // 64) and packs rows 32 at a
# time, so a narrower layer crashes in eval ("shape '[32, 0]' is invalid for input of size 16");
# CUDA warns and falls back to a slow dequantize for such rows. Those layers stay unquantized.
BNB_4BIT_BLOCK = 64  # in_features must be a multiple of this
BNB_4BIT_ROWS = 32  # out_features must be a multiple of this


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


def load_model_config(path: str, revision: str | None = None, trust_remote_code: bool = False):
    """The model's transformers config; a folder whose config.json is malformed or names an
    architecture this transformers does not know is one line, not a traceback."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(
            f"model {path}: cannot read its config.json ({_first_line(exc)}); point --model at a Hugging "
            "Face model folder (or upgrade transformers for a newer architecture)"
        ) from None


def load_model(
    path: str,
    config: ModelConfig,
    quantization: str | None = None,
    random_init: bool = False,
    head: str = "causal_lm",
):
    """The base model: pretrained weights (optionally 4/8-bit through bitsandbytes) or, for training
    from scratch, the same architecture randomly initialised (seed it before calling). head "score":
    the same body with a one-output sequence-classification head (a reward model; the head starts
    random, the body pretrained)."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    auto = AutoModelForSequenceClassification if head == "score" else AutoModelForCausalLM
    common_head = {"num_labels": 1} if head == "score" else {}

    common = {
        "trust_remote_code": config.trust_remote_code,
        "attn_implementation": config.attn_implementation,
    }
    try:
        if random_init:
            arch = load_model_config(path, config.revision, config.trust_remote_code)
            return auto.from_config(arch, dtype=DTYPES[config.dtype], **common)
        extra = _quantized(quantization, path, config) if quantization else {}
        return auto.from_pretrained(
            path,
            revision=config.revision,
            dtype=DTYPES[config.dtype],
            use_safetensors=True,
            **common,
            **common_head,
            **extra,
        )
    except (OSError, ValueError) as exc:
        raise UserError(f"model {config.name!r}: cannot load it ({_first_line(exc)})") from None


def _quantized(kind: str, path: str, config: ModelConfig) -> dict:
    from transformers import BitsAndBytesConfig

    from thrifty.distributed.rank import launched, local_rank

    device = "cuda" if torch.cuda.is_available() else "cpu"  # bitsandbytes >= 0.49 runs both on CPU too
    compute = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if device == "cuda" and launched():
        device = f"cuda:{local_rank()}"  # each process of a launched job holds its copy on its own GPU
    if kind == "nf4":
        # FSDP-QLoRA: packing the 4-bit weights in the compute dtype gives every parameter of a shard the
        # same dtype, which FSDP needs to flatten them (the default uint8 packing would not shard).
        storage = {"bnb_4bit_quant_storage": compute} if launched() else {}
        bnb = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
            llm_int8_skip_modules=_skip_narrow_4bit(path, config),  # transformers reads it for 4-bit too
            **storage,
        )
    else:
        bnb = BitsAndBytesConfig(load_in_8bit=True)
    return {"quantization_config": bnb, "device_map": {"": device}}


def _skip_narrow_4bit(path: str, config: ModelConfig) -> list[str] | None:
    """Modules 4-bit loading must leave alone: transformers' default skips (lm_head, tied
    embeddings) plus the linears too narrow for bitsandbytes' blocks. None when no linear is
    narrow, so transformers keeps computing its defaults itself."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM
    from transformers.quantizers.base import get_keys_to_not_convert

    arch = load_model_config(path, config.revision, config.trust_remote_code)
    with init_empty_weights():  # shapes only, on the meta device: no memory, no weights read
        skeleton = AutoModelForCausalLM.from_config(arch, trust_remote_code=config.trust_remote_code)
    # A list given to transformers replaces its defaults instead of adding to them, so keep them.
    defaults = get_keys_to_not_convert(skeleton)
    linears = [(name, _widths(module)) for name, module in skeleton.named_modules() if name not in defaults]
    linears = [(name, widths) for name, widths in linears if widths]
    narrow = [name for name, (n_in, n_out) in linears if n_in % BNB_4BIT_BLOCK or n_out % BNB_4BIT_ROWS]
    if not narrow:
        return None
    shown = ", ".join(narrow[:3]) + (", ..." if len(narrow) > 3 else "")
    count = f"all {len(narrow)}" if len(narrow) == len(linears) else f"{len(narrow)} of {len(linears)}"
    print(
        f"note: qlora: {count} linear layers do not fit bitsandbytes' 4-bit blocks (in_features must be "
        f"a multiple of {BNB_4BIT_BLOCK}, out_features of {BNB_4BIT_ROWS}) and stay unquantized ({shown})",
        file=sys.stderr,
    )
    # transformers matches these as regexes: escape the dots so a name matches only itself.
    return defaults + [re.escape(name) for name in narrow]


def _widths(module) -> tuple[int, int] | None:
    """(in_features, out_features) of a layer transformers would turn into a bnb layer, else None."""
    from transformers.pytorch_utils import Conv1D

    if isinstance(module, Conv1D):  # GPT-2 style: weight stored as (in, out)
        return module.weight.shape[0], module.weight.shape[1]
    if type(module) is torch.nn.Linear:  # exact type, as transformers checks: subclasses stay as they are
        return module.in_features, module.out_features
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
