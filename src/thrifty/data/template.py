"""Render a conversation to text and find the character spans the model should learn (assistant turns).

The tokenizer's chat template is used when it has one; otherwise a plain Alpaca-style template.
The same rendering serves training and `thrifty generate`, so prompts match what was trained.
"""

from typing import Any

from thrifty.errors import UserError

Messages = list[dict[str, str]]

PLAIN_PARTS = {
    "system": "{content}\n\n",
    "user": "### Instruction:\n{content}\n\n### Response:\n",
    "assistant": "{content}{eos}\n\n",
}


def with_system(messages: Messages, system_prompt: str | None) -> Messages:
    if system_prompt and messages and messages[0]["role"] != "system":
        return [{"role": "system", "content": system_prompt}, *messages]
    return messages


def render_prompt(messages: Messages, tokenizer: Any) -> str:
    """Text that asks the model for the next assistant turn."""
    if tokenizer.chat_template:
        return _apply(tokenizer, messages, add_generation_prompt=True)
    return _plain(messages, tokenizer)


def render_with_spans(messages: Messages, tokenizer: Any) -> tuple[str, list[tuple[int, int]]]:
    """Full text plus [start, end) character spans of every assistant turn, end-of-turn marker included."""
    if not tokenizer.chat_template:
        return _plain_with_spans(messages, tokenizer)
    full = _apply(tokenizer, messages)
    spans, cursor = [], 0
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = _apply(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        through = _apply(tokenizer, messages[: i + 1])
        if full.startswith(through) and through.startswith(before):
            spans.append((len(before), len(through)))
            cursor = len(through)
        else:
            # Templates that rewrite earlier turns (e.g. strip reasoning) break the prefix property;
            # fall back to locating the answer text itself.
            start = full.find(message["content"], cursor)
            if start >= 0:
                spans.append((start, start + len(message["content"])))
                cursor = start + len(message["content"])
    return full, spans


def _apply(tokenizer: Any, messages: Messages, add_generation_prompt: bool = False) -> str:
    """The tokenizer's chat template; a template that refuses the conversation (many raise on roles that
    do not alternate, or on a system turn) is the data's problem, said in one line."""
    from jinja2 import TemplateError

    try:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    except TemplateError as exc:
        roles = "/".join(m["role"] for m in messages)
        raise UserError(
            f"the model's chat template refuses a conversation with roles {roles} ({exc}); make the data "
            "fit it (user and assistant turns alternating, system only first) or pick another model"
        ) from None


def _plain(messages: Messages, tokenizer: Any) -> str:
    eos = tokenizer.eos_token or ""
    return "".join(PLAIN_PARTS[m["role"]].format(content=m["content"], eos=eos) for m in messages)


def _plain_with_spans(messages: Messages, tokenizer: Any) -> tuple[str, list[tuple[int, int]]]:
    eos = tokenizer.eos_token or ""
    text, spans = "", []
    for message in messages:
        part = PLAIN_PARTS[message["role"]].format(content=message["content"], eos=eos)
        if message["role"] == "assistant":
            spans.append((len(text), len(text) + len(message["content"]) + len(eos)))
        text += part
    return text, spans
