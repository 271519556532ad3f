"""Preference pairs for DPO: `prompt`/`chosen`/`rejected`, each a string or a list of chat messages.

Records are checked here (one line naming the file and record when a column is missing), pairs whose
chosen answer equals the rejected one are dropped and counted (they carry no preference), and each
pair is handed to TRL in the form it tokenizes: chat messages when the tokenizer has a chat template
(TRL applies it, as SFT does), else strings rendered with thrifty's plain template.
"""

import sys
from typing import Any

from thrifty.config.schema import DataConfig
from thrifty.data.readers import read_records, resolve_data_path
from thrifty.data.template import render_prompt, render_with_spans, with_system
from thrifty.data.tokenize import EncodeStats
from thrifty.errors import UserError

COLUMNS = ("prompt", "chosen", "rejected")
FORMAT = "preference"
ROLES = ("system", "user", "assistant")
Messages = list[dict[str, str]]


def load_pairs(path: str, config: DataConfig) -> tuple[list[dict[str, Messages]], int]:
    """Canonical pairs {prompt, chosen, rejected: messages} of `path`, and how many identical ones were dropped."""
    records = read_records(path, config.split)
    source = str(resolve_data_path(path))
    if not records:
        raise UserError(f"{source}: the dataset is empty; add preference pairs")
    pairs = [to_pair(record, f"{source}: record {i + 1}") for i, record in enumerate(records)]
    kept = [pair for pair in pairs if pair["chosen"] != pair["rejected"]]
    if not kept:
        raise UserError(
            f"{source}: all {len(pairs)} pairs have chosen identical to rejected; nothing to prefer"
        )
    return kept, len(pairs) - len(kept)


def to_pair(record: dict[str, Any], where: str) -> dict[str, Messages]:
    for column in COLUMNS:
        if record.get(column) is None:
            present = ", ".join(sorted(record)) or "none"
            raise UserError(
                f"{where}: column {column!r} is missing or null; preference pairs need prompt, chosen "
                f"and rejected (this record has {present})"
            )
    return {
        "prompt": _messages(record["prompt"], "user", f"{where}: prompt"),
        "chosen": _messages(record["chosen"], "assistant", f"{where}: chosen"),
        "rejected": _messages(record["rejected"], "assistant", f"{where}: rejected"),
    }


def _messages(value: Any, role: str, where: str) -> Messages:
    """A string is one message in `role`; a list must be {role, content} messages."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    if not isinstance(value, list) or not value:
        raise UserError(
            f"{where}: expected a string or a non-empty list of messages, got {type(value).__name__}"
        )
    out = []
    for turn in value:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ROLES
            or not isinstance(turn.get("content"), str)
        ):
            raise UserError(
                f"{where}: each message needs role (system/user/assistant) and string content, got {turn!r}"[
                    :300
                ]
            )
        out.append({"role": turn["role"], "content": turn["content"]})
    if role == "assistant" and not any(t["role"] == "assistant" for t in out):
        raise UserError(f"{where}: no assistant message to prefer")
    return out


def for_trainer(pair: dict[str, Messages], tokenizer: Any, system_prompt: str | None) -> dict[str, Any]:
    """The pair as TRL's DPOTrainer reads it: conversational with a chat template, else plain strings
    (the prompt rendered as SFT renders it, each answer ending in EOS as SFT learns it)."""
    prompt = with_system(pair["prompt"], system_prompt)
    if tokenizer.chat_template:
        return {"prompt": prompt, "chosen": pair["chosen"], "rejected": pair["rejected"]}
    eos = tokenizer.eos_token or ""

    def answer(messages: Messages) -> str:
        return "".join(m["content"] for m in messages) + eos

    return {
        "prompt": render_prompt(prompt, tokenizer),
        "chosen": answer(pair["chosen"]),
        "rejected": answer(pair["rejected"]),
    }


def count_tokens(
    rows: list[dict[str, Any]], tokenizer: Any, max_seq_len: int
) -> tuple[list[int], EncodeStats]:
    """Per pair: tokens of prompt+chosen plus prompt+rejected (both go through the model, so the planner
    counts them as one sequence of that length), and the stats report_data prints."""
    stats, lengths = EncodeStats(), []

    def ids(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    for row in rows:
        if isinstance(row["prompt"], str):
            prompt = ids(row["prompt"])
            both = [prompt + ids(row[side]) for side in ("chosen", "rejected")]
        else:
            prompt = ids(render_prompt(row["prompt"], tokenizer))
            both = [
                ids(render_with_spans(row["prompt"] + row[side], tokenizer)[0])
                for side in ("chosen", "rejected")
            ]
        stats.examples += 1
        stats.truncated += max(both) > max_seq_len
        kept = [min(n, max_seq_len) for n in both]
        stats.tokens += sum(kept)
        stats.label_tokens += sum(max(n - prompt, 0) for n in kept)
        lengths.append(sum(kept))
    return lengths, stats


def prepare_pairs(config: DataConfig, tokenizer: Any, seed: int):
    """The run's PreparedData for DPO: train and eval rows are TRL-ready pairs (TRL tokenizes them)."""
    from thrifty.data import PreparedData, split_examples

    if not config.path:
        raise UserError("data.path is required: pass --data FILE or set data.path in the config")
    train, dropped = load_pairs(config.path, config)
    eval_dropped = 0
    if config.eval_path:
        held, eval_dropped = load_pairs(config.eval_path, config)
    else:
        train, held = split_examples(train, config.val_fraction, seed)
    if dropped + eval_dropped:
        print(
            f"note: {dropped + eval_dropped} pairs had chosen identical to rejected and were dropped",
            file=sys.stderr,
        )
    if config.max_examples:
        train = train[: config.max_examples]
    train_rows = [for_trainer(p, tokenizer, config.system_prompt) for p in train]
    eval_rows = [for_trainer(p, tokenizer, config.system_prompt) for p in held]
    lengths, train_stats = count_tokens(train_rows, tokenizer, config.max_seq_len)
    _, eval_stats = count_tokens(eval_rows, tokenizer, config.max_seq_len)
    train_stats.dropped, eval_stats.dropped = dropped, eval_dropped
    return PreparedData(train_rows, eval_rows, held, FORMAT, train_stats, eval_stats, lengths)


# KTO's unpaired format: one answer per row, labelled desirable (true) or not.
# 1 and 0 hash as True and False, so the bool keys cover them.
LABELS = {True: True, False: False, "true": True, "false": False, "1": True, "0": False}


def load_unpaired(path: str, config: DataConfig) -> list[dict[str, Any]]:
    """Canonical {prompt, completion: messages, label: bool} rows of `path`: KTO's prompt/completion/label
    records, or prompt/chosen/rejected pairs unpaired (chosen labelled true, rejected false)."""
    records = read_records(path, config.split)
    source = str(resolve_data_path(path))
    if not records:
        raise UserError(f"{source}: the dataset is empty; add labelled answers or preference pairs")
    if "chosen" in records[0] and "rejected" in records[0]:
        return load_pairs(path, config)[0]  # pairs: unpaired after the split (see prepare_unpaired)
    return [_unpaired(record, f"{source}: record {i + 1}") for i, record in enumerate(records)]


def unpair(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pairs become two labelled answers each (chosen true, rejected false); unpaired rows stay."""
    out = []
    for row in rows:
        if "completion" in row:
            out.append(row)
        else:
            out += [
                {"prompt": row["prompt"], "completion": row[s], "label": s == "chosen"}
                for s in ("chosen", "rejected")
            ]
    return out


def _unpaired(record: dict[str, Any], where: str) -> dict[str, Any]:
    for column in ("prompt", "completion", "label"):
        if record.get(column) is None:
            present = ", ".join(sorted(record)) or "none"
            raise UserError(
                f"{where}: column {column!r} is missing or null; KTO data needs prompt, completion and label "
                f"(or prompt/chosen/rejected pairs); this record has {present}"
            )
    label = record["label"]
    key = label.strip().lower() if isinstance(label, str) else label
    if isinstance(key, float) or key not in LABELS:
        raise UserError(
            f"{where}: label {label!r} is not true/false (or 1/0); mark each answer desirable or not"
        )
    return {
        "prompt": _messages(record["prompt"], "user", f"{where}: prompt"),
        "completion": _messages(record["completion"], "assistant", f"{where}: completion"),
        "label": LABELS[key],
    }


def check_both_labels(rows: list[dict[str, Any]], source: str) -> None:
    """KTO weighs desirable against undesirable answers: with one kind only it has nothing to contrast."""
    kinds = {row["label"] for row in rows}
    if len(kinds) < 2:
        only = "desirable (true)" if True in kinds else "undesirable (false)"
        raise UserError(f"{source}: every label is {only}; KTO needs both desirable and undesirable answers")


def unpaired_for_trainer(row: dict[str, Any], tokenizer: Any, system_prompt: str | None) -> dict[str, Any]:
    """A KTO row as TRL reads it: chat messages with a chat template, else plain strings (as for_trainer)."""
    pair = for_trainer(
        {"prompt": row["prompt"], "chosen": row["completion"], "rejected": row["completion"]},
        tokenizer,
        system_prompt,
    )
    return {"prompt": pair["prompt"], "completion": pair["chosen"], "label": row["label"]}


def prepare_unpaired(config: DataConfig, tokenizer: Any, seed: int):
    """The run's PreparedData for KTO. Training rows are shuffled here with the seed: TRL's KTO reads them
    in order (its KL term pairs each answer with a neighbour's prompt in a fixed-order batch)."""
    import random

    from thrifty.data import PreparedData, split_examples

    if not config.path:
        raise UserError("data.path is required: pass --data FILE or set data.path in the config")
    train = load_unpaired(config.path, config)
    if config.eval_path:
        held = load_unpaired(config.eval_path, config)
    else:  # split before unpairing, so a pair's two answers stay on one side of the split
        train, held = split_examples(train, config.val_fraction, seed)
    train, held = unpair(train), unpair(held)
    check_both_labels(train, str(resolve_data_path(config.path)))
    random.Random(seed).shuffle(train)
    if config.max_examples:
        train = train[: config.max_examples]
    train_rows = [unpaired_for_trainer(r, tokenizer, config.system_prompt) for r in train]
    eval_rows = [unpaired_for_trainer(r, tokenizer, config.system_prompt) for r in held]
    stats, lengths = EncodeStats(), []
    for row in train_rows:  # the planner counts the answer's sequence (prompt + completion)
        text = row["prompt"] + row["completion"] if isinstance(row["prompt"], str) else None
        n = (
            len(tokenizer(text, add_special_tokens=False)["input_ids"])
            if text
            else _chat_tokens(row, tokenizer)
        )
        stats.examples += 1
        stats.truncated += n > config.max_seq_len
        stats.tokens += min(n, config.max_seq_len)
        lengths.append(min(n, config.max_seq_len))
    eval_stats = EncodeStats(examples=len(eval_rows))
    return PreparedData(train_rows, eval_rows, held, "unpaired", stats, eval_stats, lengths)


def _chat_tokens(row: dict[str, Any], tokenizer: Any) -> int:
    return len(
        tokenizer(
            render_with_spans(row["prompt"] + row["completion"], tokenizer)[0], add_special_tokens=False
        )["input_ids"]
    )
