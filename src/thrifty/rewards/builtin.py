"""Built-in rewards for the seeds' tasks. exact/contains/f1 compare the answer with the data's reference
answer (the `answer` column thrifty's GRPO data carries) through thrifty.eval.metrics, the same scoring
`thrifty eval` reports; json rewards valid JSON; length penalises answers past half the token budget."""

import json
from typing import Any

from thrifty.eval.metrics import PAIR_METRICS
from thrifty.rewards.table import register


def text_of(completion: Any) -> str:
    """TRL hands conversational completions as message lists, plain ones as strings."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content", "") for m in completion if isinstance(m, dict))


def _against_reference(metric: str):
    def factory(max_completion_length: int):
        score = PAIR_METRICS[metric]

        def reward(prompts, completions, answer, **_):
            return [score(text_of(c), ref) for c, ref in zip(completions, answer, strict=True)]

        return reward

    return factory


for _name in ("exact", "contains", "f1"):
    register(_name)(_against_reference(_name))


@register("json")
def _json(max_completion_length: int):
    def reward(prompts, completions, **_):
        out = []
        for c in completions:
            try:
                json.loads(text_of(c))
                out.append(1.0)
            except ValueError:
                out.append(0.0)
        return out

    return reward


@register("length")
def _length(max_completion_length: int):
    """0 up to half of max_completion_length words-as-tokens, then falling linearly to -1 at the limit
    (whitespace words approximate tokens: the reward sees text, not ids)."""
    half = max(max_completion_length / 2, 1)

    def reward(prompts, completions, **_):
        return [-min(max(len(text_of(c).split()) - half, 0) / half, 1.0) for c in completions]

    return reward
