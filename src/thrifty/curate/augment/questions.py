"""The prompt column of a raw record, per format: what augmentation rewrites, and how the rewrite goes
back into a copy of the record so the output keeps the input's columns. Alpaca's `input` (context) and a
conversation's earlier turns are left as they are."""

import copy
from typing import Any

USER_NAMES = {"human", "user"}  # sharegpt's speaker names for the user (thrifty.data.formats reads these)


def prompt_of(record: dict[str, Any], fmt: str) -> str | None:
    """The text a rewrite replaces, or None when the record has none (no user turn before the answer)."""
    if fmt == "alpaca":
        return str(record.get("instruction") or "") or None
    if fmt == "prompt_completion":
        return str(record.get("prompt") or "") or None
    turns = record.get("messages" if fmt == "chat" else "conversations") or []
    found = _user_turn(turns)
    if found is None:
        return None
    index, key = found
    return turns[index].get(key) or None


def with_prompt(record: dict[str, Any], fmt: str, text: str) -> dict[str, Any]:
    """A deep copy of `record` with its prompt replaced by `text` (the original stays untouched)."""
    new = copy.deepcopy(record)
    if fmt == "alpaca":
        new["instruction"] = text
    elif fmt == "prompt_completion":
        new["prompt"] = text
    else:
        turns = new["messages" if fmt == "chat" else "conversations"]
        index, key = _user_turn(turns)
        turns[index][key] = text
    return new


def _user_turn(turns: list[Any]) -> tuple[int, str] | None:
    """(index, text key) of the last user turn before the last answer: the question being answered."""
    roles = [_role(t) for t in turns]
    if "assistant" not in roles:
        return None
    last_answer = max(i for i, r in enumerate(roles) if r == "assistant")
    users = [i for i in range(last_answer) if roles[i] == "user"]
    if not users:
        return None
    turn = turns[users[-1]]
    return users[-1], "value" if "from" in turn else "content"


def _role(turn: Any) -> str | None:
    if not isinstance(turn, dict):
        return None
    if "from" in turn:
        speaker = str(turn["from"]).lower()
        return "user" if speaker in USER_NAMES else "assistant" if speaker in ("gpt", "assistant") else None
    return turn.get("role")
