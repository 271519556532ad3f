"""Prompts for online objectives (GRPO): any instruction format thrifty reads, cut before the last
answer. The answer stays beside the prompt as `answer`, which reference-based rewards compare with."""

from typing import Any

from thrifty.config.schema import DataConfig
from thrifty.data.template import render_prompt, with_system
from thrifty.data.tokenize import EncodeStats
from thrifty.errors import UserError

FORMAT = "prompts"


def to_prompt(example: dict[str, Any], tokenizer: Any, system_prompt: str | None) -> dict[str, Any] | None:
    """{prompt, answer} of a canonical example (None for plain text, which has no prompt)."""
    messages = example.get("messages")
    if not messages:
        return None
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    prompt = with_system(messages[:last], system_prompt)
    # Message lists with a chat template (TRL applies it, as for SFT), else the plain rendering.
    shown = prompt if tokenizer.chat_template else render_prompt(prompt, tokenizer)
    return {"prompt": shown, "answer": messages[last]["content"]}


def prepare_prompts(config: DataConfig, tokenizer: Any, seed: int):
    from thrifty.data import PreparedData, load_examples, split_examples
    from thrifty.data.readers import resolve_data_path

    if not config.path:
        raise UserError("data.path is required: pass --data FILE or set data.path in the config")
    train, fmt = load_examples(config.path, config)
    held = load_examples(config.eval_path, config)[0] if config.eval_path else None
    if held is None:
        train, held = split_examples(train, config.val_fraction, seed)
    if config.max_examples:
        train = train[: config.max_examples]
    rows = [r for r in (to_prompt(e, tokenizer, config.system_prompt) for e in train) if r]
    eval_rows = [r for r in (to_prompt(e, tokenizer, config.system_prompt) for e in held) if r]
    if not rows:
        raise UserError(
            f"{resolve_data_path(config.path)}: {fmt} data has no prompts; GRPO needs instructions "
            "(alpaca, chat, sharegpt or prompt_completion records)"
        )
    stats, lengths = EncodeStats(), []
    for row in rows:  # prompt tokens; the answers are generated
        text = row["prompt"] if isinstance(row["prompt"], str) else render_prompt(row["prompt"], tokenizer)
        n = len(tokenizer(text, add_special_tokens=False)["input_ids"])
        stats.examples, stats.tokens = stats.examples + 1, stats.tokens + n
        lengths.append(n)
    return PreparedData(rows, eval_rows, held, FORMAT, stats, EncodeStats(examples=len(eval_rows)), lengths)
