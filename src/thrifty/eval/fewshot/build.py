"""Few-shot prompts for held-out examples: k training examples as earlier user/assistant turns, then the
query, rendered with the chat template the way training and eval render prompts.

The tokens scored are the query's answer tokens only (with data.train_on_inputs, every token of the query
part, as training labels them): exactly the tokens a zero-shot eval scores, so the k-shot loss of the base
model and the zero-shot loss of a fine-tuned model are one measure on one set of tokens.

A prompt must fit data.max_seq_len with its answer: shots are dropped, the least similar first (random
picks: the last drawn first), until it fits; a query too long even with no shot is cut at the end as
training cuts it. Both cases are counted.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from thrifty.config.schema import DataConfig
from thrifty.data.template import Messages, render_prompt, render_with_spans, with_system
from thrifty.data.tokenize import IGNORE_INDEX
from thrifty.errors import UserError
from thrifty.eval.fewshot.pick import PICKS, Example, Pool, question_text


@dataclass
class FewShotStats:
    k: int
    pick: str
    pool: int  # training examples the shots come from
    prompts: int = 0
    shots: int = 0  # shots placed, over all prompts
    shortened: int = 0  # prompts that dropped at least one shot to fit data.max_seq_len
    truncated: int = 0  # prompts too long even with no shot, cut at data.max_seq_len as training does
    dropped: int = 0  # no answer token left after the cut: not scored (training's eval drops them too)
    prompt_tokens: int = 0  # tokens before the answer, shots included, over all prompts
    zero_shot_prompt_tokens: int = 0  # the same prompts with no shot

    def summary(self) -> dict[str, Any]:
        """The counts plus per-query means: prompt tokens are what each query costs at inference."""
        n = max(self.prompts, 1)
        return {
            **asdict(self),
            "shots_per_prompt": self.shots / n,
            "prompt_tokens_per_query": self.prompt_tokens / n,
            "zero_shot_prompt_tokens_per_query": self.zero_shot_prompt_tokens / n,
            "prompt_token_ratio": self.prompt_tokens / max(self.zero_shot_prompt_tokens, 1),
        }


@dataclass
class FewShotSet:
    rows: list[dict[str, list[int]]] = field(default_factory=list)  # scored rows (dropped ones left out)
    prompts: list[str] = field(default_factory=list)  # one per query, for generation
    references: list[str] = field(default_factory=list)
    shots: list[list[int]] = field(default_factory=list)  # pool indices per query, in prompt order
    stats: FewShotStats | None = None


def check_k(k: int | None, pick: str, flag: str = "--few-shot") -> None:
    if k is not None and k < 1:
        raise UserError(f"{flag} {k}: must be a positive whole number (shots per prompt)")
    if pick not in PICKS:
        raise UserError(f"{flag}-pick {pick}: choose from {', '.join(PICKS)}")


def training_pool(config: DataConfig, seed: int) -> list[Example]:
    """The examples a run with `config` trains on (the seeded split of data.path unless data.eval_path,
    then data.max_examples), the ones with an answer: what fine-tuning saw is what the prompt may show."""
    from thrifty.data import load_examples, split_examples

    examples, _ = load_examples(config.path, config)
    if not config.eval_path:
        examples = split_examples(examples, config.val_fraction, seed)[0]
    if config.max_examples:
        examples = examples[: config.max_examples]
    pool = [e for e in examples if has_answer(e)]
    if not pool:
        raise UserError(f"{config.path}: no training example has an answer to show as a few-shot example")
    return pool


def has_answer(example: Example) -> bool:
    return any(m["role"] == "assistant" for m in example.get("messages") or ())


def check_queries(examples: list[Example], source: str) -> None:
    if not examples or not all(has_answer(e) for e in examples):
        raise UserError(
            f"{source}: few-shot needs prompts with answers (alpaca, chat, sharegpt, prompt_completion); "
            "plain text has no question to put examples before"
        )


def build_few_shot(
    queries: list[Example],
    pool_examples: list[Example],
    k: int,
    pick: str,
    tokenizer: Any,
    config: DataConfig,
    seed: int,
) -> FewShotSet:
    """Rows to score and prompts to generate from, one per query, each with up to k shots."""
    pool = Pool(pool_examples)
    picker = PICKS[pick](pool, seed)
    out = FewShotSet(stats=FewShotStats(k, pick, len(pool)))
    for position, query in enumerate(queries):
        ranked = picker.rank(question_text(query), position, k)  # best first
        row, prompt, used = fit(query, [pool.examples[i] for i in ranked], tokenizer, config, out.stats)
        out.prompts.append(prompt)
        out.references.append(query["messages"][last_answer(query["messages"])]["content"])
        out.shots.append(list(reversed(ranked[:used])))
        if any(label != IGNORE_INDEX for label in row["labels"]):
            out.rows.append(row)
        else:
            out.stats.dropped += 1
    return out


def fit(
    query: Example, ranked: list[Example], tokenizer: Any, config: DataConfig, stats: FewShotStats
) -> tuple[dict[str, list[int]], str, int]:
    """(row, generation prompt, shots used): the most shots, best first, that fit with the answer."""
    for used in range(len(ranked), -1, -1):
        # The best shot sits last, next to the query: models weigh the nearest context most.
        shots = list(reversed(ranked[:used]))
        messages, shot_answers = conversation(shots, query, config.system_prompt)
        row, prompt_tokens = encode_scored(messages, shot_answers, tokenizer, config.train_on_inputs)
        if len(row["input_ids"]) <= config.max_seq_len or used == 0:
            break
    stats.prompts += 1
    stats.shots += used
    stats.shortened += used < len(ranked)
    stats.truncated += len(row["input_ids"]) > config.max_seq_len
    stats.prompt_tokens += prompt_tokens
    zero_shot = conversation([], query, config.system_prompt)[0]
    stats.zero_shot_prompt_tokens += prompt_length(zero_shot, tokenizer)
    row = {key: value[: config.max_seq_len] for key, value in row.items()}
    return row, render_prompt(messages[: last_answer(messages)], tokenizer), used


def conversation(shots: list[Example], query: Example, system_prompt: str | None) -> tuple[Messages, int]:
    """(messages, assistant turns that belong to shots): one system turn first (the query's own, else
    data.system_prompt), each shot's turns through its last answer, then the query's turns."""
    turns = [m for m in query["messages"] if m["role"] != "system"]
    system = [m for m in query["messages"][:1] if m["role"] == "system"]
    shot_turns: Messages = []
    for shot in shots:
        messages = shot["messages"][: last_answer(shot["messages"]) + 1]
        shot_turns += [m for m in messages if m["role"] != "system"]
    answers = sum(m["role"] == "assistant" for m in shot_turns)
    return with_system(system + shot_turns + turns, system_prompt), answers


def encode_scored(
    messages: Messages, shot_answers: int, tokenizer: Any, train_on_inputs: bool
) -> tuple[dict[str, list[int]], int]:
    """({input_ids, labels}, tokens before the last answer): labels on the query's assistant turns only
    (train_on_inputs: on everything after the last shot), never on a shot."""
    text, spans = render_with_spans(messages, tokenizer)
    enc = tokenizer(text, add_special_tokens=not tokenizer.chat_template, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    mine = spans[shot_answers:]
    if train_on_inputs:
        start = spans[shot_answers - 1][1] if shot_answers else 0
        labels = [tok if s >= start else IGNORE_INDEX for tok, (s, _e) in zip(ids, offsets, strict=True)]
    else:
        labels = [
            tok if any(a <= s < b for a, b in mine) else IGNORE_INDEX
            for tok, (s, _e) in zip(ids, offsets, strict=True)
        ]
    answer_start = mine[-1][0] if mine else len(text)
    prompt_tokens = sum(s < answer_start for s, _e in offsets)
    return {"input_ids": ids, "labels": labels}, prompt_tokens


def prompt_length(messages: Messages, tokenizer: Any) -> int:
    prompt = render_prompt(messages[: last_answer(messages)], tokenizer)
    return len(tokenizer(prompt, add_special_tokens=not tokenizer.chat_template)["input_ids"])


def last_answer(messages: Messages) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "assistant")
