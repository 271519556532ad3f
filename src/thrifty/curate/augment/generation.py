"""Batched generation for the augmenters that ask a model, with a progress bar and a polite stop: the
first SIGTERM/SIGINT lets the current batch finish, then no further batch starts (what was made is
still filtered and written); a second one stops at once (thrifty.curate.stopping)."""

from dataclasses import dataclass, field
from typing import Any

from thrifty.curate.augment.options import AugmentOptions
from thrifty.curate.stopping import Stop


@dataclass
class Context:
    """What an augmenter's maker may use: the options, the generator (model, tokenizer, system prompt)
    when the kind needs one, and the stop flag."""

    options: AugmentOptions
    generator: tuple[Any, Any, str | None] | None = None
    stop: Stop = field(default_factory=Stop)


def generate(
    ctx: Context, conversations: list[list[dict[str, str]]], sample: bool, desc: str
) -> list[str | None]:
    """The generator's reply to each conversation, in order; None for those a stop left undone. Sampling
    seeds each batch with seed + its first index, so the same flags give the same replies."""
    import torch
    from tqdm import tqdm

    from thrifty.data.template import render_prompt, with_system
    from thrifty.inference import generate as gen

    model, tokenizer, system = ctx.generator
    texts = [render_prompt(with_system(c, system), tokenizer) for c in conversations]
    options = gen.GenerationOptions(
        max_new_tokens=ctx.options.max_new_tokens, do_sample=sample, temperature=ctx.options.temperature
    )
    replies: list[str | None] = [None] * len(texts)
    size = ctx.options.batch_size
    with tqdm(total=len(texts), desc=desc, unit="prompt", disable=not ctx.options.progress) as bar:
        for start in range(0, len(texts), size):
            if ctx.stop.reason is not None:
                break
            if sample:
                torch.manual_seed(ctx.options.seed + start)
            replies[start : start + size] = gen.generate_from_text(
                model, tokenizer, texts[start : start + size], options
            )
            bar.update(len(texts[start : start + size]))
    return replies
