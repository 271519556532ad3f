"""What a training objective adds to memory and time, counted from what its TRL trainer runs.

- dpo, orpo, simpo, reward: chosen and rejected go through the model in every forward (TRL's batch counts
  pairs), so activations and logits double at the same micro-batch, and each example trains two sequences.
- kto: one sequence per example with gradients, plus TRL's KL term: a mismatched batch (completions cycled
  within the batch) through the policy and the reference under no_grad. It runs before the graded forward
  and frees its tensors, so it adds time (forward passes), not peak memory.
- grpo: TRL's batch counts completions; each of `num_generations` completions per prompt is a sequence of
  prompt + `max_completion_length` tokens with gradients. Generating them is one forward per generated
  token, counted as 2N FLOPs per token at the plan's MFU (decoding is memory-bound, so this is a floor on
  the time; its KV cache lives before the training forward and is not added to the peak).
- a frozen reference (OBJECTIVES[o].reference): with an adapter method the base with the adapter off is
  the reference (no extra weights); with full/freeze a second copy of the weights in the compute dtype,
  unless train.precompute_ref_logps (computed once up front, then no copy). Its forward passes count in
  time either way (up front or in every step).
- reward: a one-score head instead of the LM head, so no vocab logits (activations measured on a config
  with a one-entry vocabulary, which is exactly a hidden x 1 head) and no logits-gradient transient.
"""

import copy
from dataclasses import dataclass

from thrifty.config.objectives import OBJECTIVES
from thrifty.errors import UserError
from thrifty.methods.table import method_info

PAIRED = tuple(name for name, info in OBJECTIVES.items() if info.pairs)


@dataclass(frozen=True)
class ObjectiveCost:
    name: str = "sft"
    sequences: int = 1  # sequences per micro-batch slot in each graded forward (activations, logits)
    completion_tokens: int = 0  # grpo: tokens generated onto each prompt before it is trained on
    samples: int = 1  # sequences trained per example: 2 for pairs, num_generations for grpo
    forward_passes: float = 0.0  # extra no-grad forwards per trained token: reference, KTO's KL batch
    generated_tokens: int = 0  # per example (prompt): num_generations x max_completion_length
    reference_weights: bool = False  # a second copy of the weights, in the compute dtype
    logits: bool = True  # False: a score head (reward), no vocab logits

    def seq_len(self, prompt_len: int) -> int:
        """Tokens of each trained sequence, for a request's --seq-len."""
        return prompt_len + self.completion_tokens

    def trained_tokens(self, tokens: int, seq_len: int) -> int:
        """Tokens that go through forward and backward for `tokens` of data (examples of `seq_len`)."""
        return int(tokens * self.samples * self.seq_len(seq_len) / seq_len)

    def examples(self, tokens: int, seq_len: int) -> float:
        return tokens / seq_len


def objective_cost(
    objective: str = "sft",
    method: str = "lora",
    precompute_ref_logps: bool = False,
    num_generations: int = 4,
    max_completion_length: int = 64,
) -> ObjectiveCost:
    """The cost model of `objective` trained with `method` (see the module docstring for each)."""
    if objective not in OBJECTIVES:
        raise UserError(f"--objective {objective}: choose from {', '.join(OBJECTIVES)}")
    info = OBJECTIVES[objective]
    frozen = info.reference == "frozen"
    copy_needed = frozen and not method_info(method).adapter and not precompute_ref_logps
    reference_passes = 1.0 if frozen else 0.0
    if objective in PAIRED:
        return ObjectiveCost(
            objective, sequences=2, samples=2, forward_passes=reference_passes,
            reference_weights=copy_needed, logits=info.head == "causal_lm",
        )  # fmt: skip
    if objective == "kto":
        # KL batch: one mismatched sequence per example through the policy and the reference.
        return ObjectiveCost(objective, forward_passes=reference_passes + 2, reference_weights=copy_needed)
    if objective == "grpo":
        return ObjectiveCost(
            objective, completion_tokens=max_completion_length, samples=num_generations,
            forward_passes=reference_passes, generated_tokens=num_generations * max_completion_length,
            reference_weights=copy_needed,
        )  # fmt: skip
    return ObjectiveCost(objective)


def profile_config(config, cost: ObjectiveCost):
    """The config whose activations the objective saves: a score head is a one-entry vocabulary."""
    if cost.logits:
        return config
    scored = copy.deepcopy(config)
    scored.vocab_size = 1
    for name in ("pad_token_id", "bos_token_id", "eos_token_id"):  # ids past a one-entry vocabulary
        if isinstance(getattr(scored, name, None), int) and getattr(scored, name) >= 1:
            setattr(scored, name, None)
    return scored


def objective_memory(
    cost: ObjectiveCost, activations: int, loss_transient: int, base_params: int, weight_bytes: int
) -> tuple[int, int, int]:
    """(activations, loss transient, reference weights) in bytes for one micro-batch, from what one
    sequence per slot would save (`activations`, `loss_transient`) and the base's size: a reference
    copy holds every base weight at `weight_bytes` each (the compute dtype; fp32 on CPUs)."""
    reference = base_params * weight_bytes if cost.reference_weights else 0
    loss = loss_transient * cost.sequences if cost.logits else 0
    return activations * cost.sequences, loss, reference


def describe(cost: ObjectiveCost, tokens: int, seq_len: int, extra_flops: float, reference: int) -> dict:
    """The objective's part of a plan, for the table and --json."""
    return {
        "name": cost.name,
        "sequences_per_forward": cost.sequences,
        "sequence_tokens": cost.seq_len(seq_len),
        "trained_tokens": cost.trained_tokens(tokens, seq_len),
        "generated_tokens": int(cost.examples(tokens, seq_len) * cost.generated_tokens),
        "extra_forward_flops": extra_flops,
        "reference_weights_bytes": reference,
        "score_head": not cost.logits,
    }
