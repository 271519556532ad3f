"""The frozen reference a preference loss compares the policy with, at the least memory.

- An adapter method (LoRA, QLoRA, DoRA, IA3): none is built; the base with the adapter disabled is the
  reference, so the run holds one model (TRL computes the reference pass under `disable_adapter`).
- full / freeze with `train.precompute_ref_logps`: none either; TRL runs the still-untrained model over
  the data once before training and stores the log-probabilities beside the rows.
- full / freeze otherwise: a frozen copy of the model as loaded (same weights, dtype and device), made
  here rather than by TRL, which would load the checkpoint from disk a second time (and without thrifty's
  dtype and safetensors-only settings).
"""

from typing import Any


def reference_model(model: Any, args: Any) -> Any | None:
    """The `ref_model` to hand a TRL trainer: None, or a frozen copy of `model` in eval mode."""
    import copy

    from peft import PeftModel

    if isinstance(model, PeftModel) or getattr(args, "precompute_ref_log_probs", False):
        return None
    reference = copy.deepcopy(model)
    reference.requires_grad_(False)
    return reference.eval()
