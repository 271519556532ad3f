"""What an objective adds to a plan: the sequences each example puts through the model, a reference
model's weights and forward passes, and the head the loss reads.

- dpo, orpo, simpo, reward: a chosen and a rejected sequence per example, in one forward (TRL
  concatenates them), so activations and logits are those of 2 x micro_batch sequences.
- kto: one answer per example plus the KL term's mismatched answer (TRL runs both): 2 sequences too.
- grpo: micro_batch counts completions (num_generations per prompt); generation time is not modelled.
- A frozen reference (dpo, kto, grpo with beta > 0): with an adapter method the base is the reference
  (no weights added); with full/freeze a second copy of the base weights unless the log-probs are
  precomputed. Either way the reference forward costs 2N FLOPs per token against training's 6N: +1/3
  (none when precomputed once, which is a single extra pass over the data, not counted).
- reward: a one-score head instead of the vocabulary logits, so no logits gradient to hold.
"""

from dataclasses import replace

from thrifty.config.objectives import OBJECTIVES

SEQUENCES = {"dpo": 2, "orpo": 2, "simpo": 2, "reward": 2, "kto": 2}
PAIRED_LENGTHS = {"dpo", "orpo", "simpo", "reward"}  # their data lengths sum both sides of a pair
REFERENCE_FORWARD_SHARE = 1 / 3  # 2N forward FLOPs per token against 6N for a training step


def sequences(objective: str) -> int:
    return SEQUENCES.get(objective, 1)


def has_reference(objective: str, precompute: bool) -> bool:
    return OBJECTIVES[objective].reference == "frozen" and not precompute


def memory_settings(settings, objective: str):
    """The settings activations are estimated at: micro_batch sequences per example of the objective."""
    return replace(settings, micro_batch=settings.micro_batch * sequences(objective))


def adjust_memory(
    memory, objective: str, precompute: bool, trains_base: str, base_params: int, frozen_bytes: int
):
    """A whole reference copy for full/freeze, and no vocabulary logits for a reward model's score."""
    extra = (
        base_params * frozen_bytes if has_reference(objective, precompute) and trains_base != "none" else 0
    )
    loss = 0 if OBJECTIVES[objective].head == "score" else memory.loss_transient
    return replace(memory, weights=memory.weights + extra, loss_transient=loss), extra


def adjust_flops(flops: float, objective: str, precompute: bool) -> float:
    return flops * (1 + REFERENCE_FORWARD_SHARE) if has_reference(objective, precompute) else flops
