"""Generate answers with the chat template the model was trained with; transformers does the decoding."""

from dataclasses import dataclass
from typing import Any

import torch

from thrifty.data.template import render_prompt, with_system


@dataclass
class GenerationOptions:
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default: reproducible answers
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.0
    system_prompt: str | None = None


def load_for_generation(model_name: str, adapter: str | None = None, trust_remote_code: bool = False):
    """Base model (any name `thrifty train` accepts) plus an optional PEFT adapter folder."""
    from thrifty.config.schema import ModelConfig
    from thrifty.errors import UserError
    from thrifty.models.load import load_model, load_tokenizer
    from thrifty.models.registry import resolve_model

    config = ModelConfig(name=model_name, trust_remote_code=trust_remote_code)
    path = resolve_model(model_name)
    tokenizer = load_tokenizer(path, config)
    model = load_model(path, config)
    if adapter:
        from pathlib import Path

        from peft import PeftModel

        if not (Path(adapter) / "adapter_config.json").is_file():
            raise UserError(f"adapter folder {adapter} has no adapter_config.json; pass RUN/adapter")
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    return model, tokenizer


def generate(model: Any, tokenizer: Any, prompts: list[str], options: GenerationOptions) -> list[str]:
    """Answers to each user prompt (left-padded batch), without the prompt text."""
    texts = [
        render_prompt(with_system([{"role": "user", "content": p}], options.system_prompt), tokenizer)
        for p in prompts
    ]
    return generate_from_text(model, tokenizer, texts, options)


def generate_from_text(model: Any, tokenizer: Any, texts: list[str], options: GenerationOptions) -> list[str]:
    return generate_with_counts(model, tokenizer, texts, options)[0]


def generate_with_counts(
    model: Any, tokenizer: Any, texts: list[str], options: GenerationOptions
) -> tuple[list[str], list[int]]:
    """Answers (left-padded batch) and how many tokens each one generated, its end-of-sequence included."""
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    batch = tokenizer(
        texts, return_tensors="pt", padding=True, add_special_tokens=not tokenizer.chat_template
    )
    batch = {k: v.to(model.device) for k, v in batch.items()}
    kwargs: dict[str, Any] = {
        "max_new_tokens": options.max_new_tokens,
        "do_sample": options.do_sample,
        "repetition_penalty": options.repetition_penalty,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if options.do_sample:
        kwargs.update(temperature=options.temperature, top_p=options.top_p, top_k=options.top_k)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    with torch.inference_mode():
        out = model.generate(**batch, **kwargs)
    new_tokens = out[:, batch["input_ids"].shape[1] :]
    answers = [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    return answers, [_generated_length(row.tolist(), tokenizer.eos_token_id) for row in new_tokens]


def _generated_length(ids: list[int], eos_id: int | None) -> int:
    """Finished rows are padded (often with EOS itself) up to the longest row: count through the first EOS."""
    return ids.index(eos_id) + 1 if eos_id is not None and eos_id in ids else len(ids)
