"""Detect a dataset's format from its columns and turn every record into one canonical shape.

Canonical example: {"messages": [{"role", "content"}, ...]} for instruction data, {"text": str} for plain text.
"""

from typing import Any

from thrifty.data.augmented import mark
from thrifty.errors import UserError

# format -> (required columns, optional columns); detection tries them in this order.
FORMATS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("messages",), ()),
    "sharegpt": (("conversations",), ()),
    "alpaca": (("instruction", "output"), ("input", "system")),
    "prompt_completion": (("prompt", "completion"), ()),
    "text": (("text",), ()),
}
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


def format_help() -> str:
    return "; ".join(f"{name} ({', '.join(req)})" for name, (req, _) in FORMATS.items())


def detect_format(columns: list[str], requested: str, source: str) -> str:
    present = set(columns)
    if requested != "auto":
        missing = [c for c in FORMATS[requested][0] if c not in present]
        if missing:
            raise UserError(
                f"{source}: format {requested} needs column(s) {', '.join(missing)} but the data has "
                f"{', '.join(sorted(present)) or 'none'}; formats: {format_help()}"
            )
        return requested
    for name, (required, _) in FORMATS.items():
        if all(c in present for c in required):
            return name
    raise UserError(
        f"{source}: cannot tell the format from columns {', '.join(sorted(present)) or '(none)'}; "
        f"expected one of: {format_help()}; or set data.format"
    )


def to_canonical(record: dict[str, Any], fmt: str, where: str) -> dict[str, Any]:
    """One record in `fmt` -> canonical example. `where` (file:record) names the record in errors. Other
    columns are dropped, except `augmented_from` (the split keeps generated rows out of evaluation)."""
    return mark(_canonical(record, fmt, where), record, where)


def _canonical(record: dict[str, Any], fmt: str, where: str) -> dict[str, Any]:
    if fmt == "text":
        return {"text": _text(record, "text", where)}
    if fmt == "alpaca":
        prompt = _text(record, "instruction", where)
        extra = record.get("input") or ""
        if extra:
            prompt = f"{prompt}\n\n{_text(record, 'input', where)}"
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": _text(record, "output", where)},
        ]
        if record.get("system"):
            messages.insert(0, {"role": "system", "content": _text(record, "system", where)})
        return {"messages": messages}
    if fmt == "prompt_completion":
        return {
            "messages": [
                {"role": "user", "content": _text(record, "prompt", where)},
                {"role": "assistant", "content": _text(record, "completion", where)},
            ]
        }
    key = "messages" if fmt == "chat" else "conversations"
    return {"messages": _turns(record.get(key), fmt, where)}


def _turns(turns: Any, fmt: str, where: str) -> list[dict[str, str]]:
    if not isinstance(turns, list) or not turns:
        raise UserError(f"{where}: expected a non-empty list of messages")
    out = []
    for turn in turns:
        if fmt == "sharegpt" and isinstance(turn, dict) and "from" in turn:
            role, content = SHAREGPT_ROLES.get(str(turn["from"]).lower()), turn.get("value")
        elif isinstance(turn, dict):
            role, content = turn.get("role"), turn.get("content")
        else:
            role, content = None, None
        if role not in ("system", "user", "assistant") or not isinstance(content, str):
            raise UserError(
                f"{where}: each message needs role (system/user/assistant) and string content, got {turn!r}"[
                    :300
                ]
            )
        out.append({"role": role, "content": content})
    if not any(t["role"] == "assistant" for t in out):
        raise UserError(f"{where}: conversation has no assistant message to learn from")
    return out


def _text(record: dict[str, Any], column: str, where: str) -> str:
    value = record.get(column)
    if value is None:
        raise UserError(f"{where}: column {column!r} is missing or null")
    if not isinstance(value, str):
        value = str(value)
    return value
