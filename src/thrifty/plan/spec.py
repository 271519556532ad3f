"""What a plan is asked about a method; no heavy imports, so the CLI parser stays fast."""

from dataclasses import dataclass

PEFT_METHODS = ("lora", "dora", "rslora", "qlora", "lora8bit", "ia3", "prefix", "prompt", "ptuning")
METHODS = ("full", "freeze", "scratch", *PEFT_METHODS)


@dataclass
class MethodSpec:
    """What the planner needs to know about a fine-tuning method (a superset of the trainer's)."""

    name: str = "lora"
    rank: int = 16
    alpha: float = 32.0
    targets: list[str] | str = "all-linear"
    dropout: float = 0.05
    virtual_tokens: int = 20  # prefix / prompt / p-tuning
    encoder_hidden_size: int = 128  # p-tuning's prompt encoder
    trainable_layers: int = 2  # freeze: train only the last N decoder layers
