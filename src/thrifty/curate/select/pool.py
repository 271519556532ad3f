"""A pool to select from: a data file whose rows may lack answers (a pool to label), read as train reads
it. Unlabelled rows are alpaca rows without `output`, prompt_completion rows without `completion`, or chat/
sharegpt conversations that end on the user's turn; they come back with an empty answer to fill in."""

from dataclasses import dataclass
from typing import Any

from thrifty.curate.rows import Table, answer_text, read_table
from thrifty.errors import UserError

# An unlabelled format's answer column: what to_label.jsonl leaves empty for a person to fill.
ANSWER_COLUMN = {"alpaca": "output", "prompt_completion": "completion"}
PROMPT_ONLY = {"instruction": "alpaca", "prompt": "prompt_completion"}  # column -> format it starts


@dataclass
class Pool:
    table: Table
    labelled: list[bool]  # per row: has a non-empty answer

    @property
    def all_labelled(self) -> bool:
        return all(self.labelled)


def read_pool(path: str, fmt: str = "auto") -> Pool:
    """The pool's rows; rows without an answer get an empty one (the file itself is not changed)."""
    table = read_table(path, fmt, prepare=_with_answer_slot)
    if table.format == "text":
        raise UserError(f"{table.path}: plain text has no prompts to select by; use an instruction format")
    return Pool(table, [bool(answer_text(e).strip()) for e in table.examples])


def _with_answer_slot(record: dict[str, Any]) -> dict[str, Any]:
    """The record as train would read it once labelled: an empty answer where it has none."""
    for column, fmt in PROMPT_ONLY.items():
        answer = ANSWER_COLUMN[fmt]
        if column in record and record.get(answer) is None:
            return {**record, answer: ""}
    for key in ("messages", "conversations"):
        turns = record.get(key)
        if isinstance(turns, list) and turns and not any(_is_answer(t) for t in turns):
            slot = (
                {"from": "gpt", "value": ""}
                if key == "conversations"
                else {"role": "assistant", "content": ""}
            )
            return {**record, key: [*turns, slot]}
    return record


def _is_answer(turn: Any) -> bool:
    return isinstance(turn, dict) and (
        turn.get("role") == "assistant" or turn.get("from") in ("gpt", "assistant")
    )
