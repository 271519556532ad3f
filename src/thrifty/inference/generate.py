"""Generate answers with the chat template the model was trained with; transformers does the decoding."""

from dataclasses import dataclass
from typing import Any

import torch

from thrifty.data.template import render_prompt, with_system
from thrifty.inference.device import to_model_device


@dataclass
class GenerationOptions:
    max_new_tokens: int = 128
    do_sample: bool = False  # greedy by default: reproducible answers
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.0
    system_prompt: str | None = None


DEFAULT_MODEL = "smollm2-135m"


def load_for_generation(
    model_name: str | None,
    adapter: str | list[str] | None = None,
    trust_remote_code: bool = False,
    device: str = "cpu",
):
    """Base model (any name `thrifty train` accepts) plus optional PEFT adapter folders, on `device`.

    With several adapters they all load onto one base (peft's `load_adapter`), each named after its
    folder (see `adapter_names`); `select_adapter` switches between them without reloading anything.
    Without `model_name` the base is the one the first adapter's run trained (RUN/adapter), else
    smollm2-135m. Remote code runs only with `trust_remote_code`: a run folder asking for it is refused."""
    from thrifty.config.schema import ModelConfig
    from thrifty.inference.device import place
    from thrifty.inference.run_folder import check_remote_code
    from thrifty.models.load import load_model, load_tokenizer

    folders = [adapter] if isinstance(adapter, str) else list(adapter or [])
    for folder in [*folders, *([model_name] if model_name else [])]:
        check_remote_code(folder, trust_remote_code)
    path = base_for(model_name, folders, trust_remote_code)
    config = ModelConfig(name=model_name or path, trust_remote_code=trust_remote_code)
    tokenizer = load_tokenizer(path, config)
    model = load_model(path, config)
    if folders:
        model = _load_adapters(model, folders)
    model = place(model, device)
    model.eval()
    return model, tokenizer


def base_for(model_name: str | None, folders: list[str], trust_remote_code: bool) -> str:
    """The base model's path: --model/--base, else the first adapter's run's base, else the default."""
    from thrifty.inference.run_folder import base_model_path, open_run, run_holding
    from thrifty.models.registry import resolve_model

    if model_name:
        return resolve_model(model_name)
    run = run_holding(folders[0]) if folders else None
    if run is not None and (run / "summary.json").is_file():
        return base_model_path(open_run(run, trust_remote_code))
    return resolve_model(DEFAULT_MODEL)


def adapter_names(folders: list[str]) -> list[str]:
    """A short unique name per adapter folder: the run's name for RUN/adapter, else the folder's own name."""
    from pathlib import Path

    names: list[str] = []
    for folder in folders:
        path = Path(folder).resolve()
        name = path.parent.name if path.name == "adapter" else path.name
        base, n = name or "adapter", 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def _load_adapters(model: Any, folders: list[str]) -> Any:
    from peft import PeftModel

    from thrifty.inference.run_folder import check_adapter_folder

    for folder in folders:
        check_adapter_folder(folder)
    names = adapter_names(folders)
    model = PeftModel.from_pretrained(model, folders[0], adapter_name=names[0])
    for folder, name in zip(folders[1:], names[1:], strict=True):
        model.load_adapter(folder, adapter_name=name)
    return model


def select_adapter(model: Any, folders: list[str], choice: str) -> str:
    """Make `choice` the active adapter: its name, the folder given to --adapter, or `base` (no adapter).
    Returns the name; `base` is served by switching adapters off at generation time (see `generate_as`)."""
    from thrifty.errors import UserError

    names = adapter_names(folders)
    if choice == "base":
        return "base"
    lookup = {**dict(zip(folders, names, strict=True)), **{n: n for n in names}}
    if choice not in lookup:
        raise UserError(f"--use {choice}: not a loaded adapter; choose from {', '.join(names)} or base")
    model.set_adapter(lookup[choice])
    return lookup[choice]


def generate_as(
    model: Any, tokenizer: Any, prompts: list[str], options: "GenerationOptions", name: str | None
):
    """`generate` with adapter `name` active (already selected), or with adapters off for `base`."""
    if name == "base" and hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            return generate(model, tokenizer, prompts, options)
    return generate(model, tokenizer, prompts, options)


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
    batch = to_model_device(batch, model)
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
