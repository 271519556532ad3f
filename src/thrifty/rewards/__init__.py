"""Rewards for GRPO's sampled answers, from `train.reward`: built-ins (exact, contains, f1 against the
data's answer, json, length), a Python function `module:function`, or a reward-model folder. Each spec
becomes what TRL's GRPOTrainer takes as reward_funcs (a callable, or a model with its tokenizer)."""

from typing import Any

from thrifty.rewards.registry import BUILTINS, Reward, builtin_names, from_spec

__all__ = ["BUILTINS", "Reward", "build_rewards", "builtin_names", "from_spec"]


def build_rewards(specs: list[str], policy_tokenizer: Any, max_completion_length: int) -> list[Reward]:
    """One Reward per spec, checked before the model loads where it can be (names, imports, folders)."""
    return [from_spec(spec, policy_tokenizer, max_completion_length) for spec in specs]
