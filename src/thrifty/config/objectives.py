"""What each training objective is, as data, and its fields in `train`: the table the schema validates
against (no torch, no trl here). The code that builds an objective's trainer lives in
thrifty.objectives.<name> and registers under the same name; tests/objectives check the two agree.

The fields are flat in `train` (`train.beta`, `train.num_generations`), as TRL's configs and the peers'
YAML name them; each says which objectives read it (READERS), and a run whose objective ignores a field
set away from its default says so in a note rather than silently.
"""

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

ObjectiveName = Literal["sft", "dpo", "orpo", "kto", "simpo", "reward", "grpo"]


@dataclass(frozen=True)
class ObjectiveInfo:
    description: str
    data: str  # the columns it reads, for messages and docs
    # "frozen": the loss compares the policy with a frozen reference model. With an adapter method the
    # base with the adapter disabled is that reference (one model in memory); with full/freeze a copy.
    reference: Literal["none", "frozen"] = "none"
    head: Literal["causal_lm", "score"] = "causal_lm"  # reward: a sequence-classification head (one score)
    online: bool = False  # generates its own completions while training (GRPO)
    pairs: bool = False  # reads prompt/chosen/rejected pairs (both sides go through the model)


OBJECTIVES: dict[str, ObjectiveInfo] = {
    "sft": ObjectiveInfo(
        "Supervised fine-tuning: next-token loss on the answers (prompts masked).",
        "any instruction or text format (see `data.format`)",
    ),
    "dpo": ObjectiveInfo(
        "Direct preference optimisation (TRL DPOTrainer): prefer the chosen answer over the rejected one, "
        "relative to the frozen reference.",
        "prompt, chosen, rejected (strings or chat message lists)",
        reference="frozen",
        pairs=True,
    ),
    "orpo": ObjectiveInfo(
        "Odds-ratio preference optimisation (TRL ORPOTrainer): SFT on the chosen answer plus an odds-ratio "
        "penalty on the rejected one; no reference model.",
        "prompt, chosen, rejected",
        pairs=True,
    ),
    "kto": ObjectiveInfo(
        "Kahneman-Tversky optimisation (TRL KTOTrainer): unpaired answers labelled desirable or not, "
        "relative to the frozen reference.",
        "prompt, completion, label (true/false); paired prompt/chosen/rejected data is unpaired for it",
        reference="frozen",
    ),
    "simpo": ObjectiveInfo(
        "Simple preference optimisation (TRL CPOTrainer, loss simpo): length-normalised log-probabilities "
        "with a target margin; no reference model.",
        "prompt, chosen, rejected",
        pairs=True,
    ),
    "reward": ObjectiveInfo(
        "A reward model (TRL RewardTrainer): a one-score head learns to rank the chosen answer above the "
        "rejected one (Bradley-Terry); the folder then serves GRPO's `train.reward`.",
        "prompt, chosen, rejected",
        head="score",
        pairs=True,
    ),
    "grpo": ObjectiveInfo(
        "Group relative policy optimisation (TRL GRPOTrainer): samples `num_generations` answers per prompt "
        "and moves towards the better-rewarded ones; KL to the frozen reference when beta > 0.",
        "prompts in any instruction format (an answer column, when present, feeds reference-based rewards)",
        reference="frozen",
        online=True,
    ),
}

DPO_LOSSES = Literal[
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
]


# Which objectives read each objective field (the rest refuse a non-default value).
READERS: dict[str, tuple[str, ...]] = {
    "loss_type": ("dpo",),
    "label_smoothing": ("dpo", "simpo"),
    "simpo_gamma": ("simpo",),
    "desirable_weight": ("kto",),
    "undesirable_weight": ("kto",),
    "reward": ("grpo",),
    "num_generations": ("grpo",),
    "max_completion_length": ("grpo",),
    "temperature": ("grpo",),
    "precompute_ref_logps": ("dpo", "kto"),
    "beta": ("dpo", "orpo", "kto", "simpo", "grpo"),
}


class ObjectiveFields(BaseModel):
    """The objective and its own settings; mixed into TrainConfig."""

    objective: ObjectiveName = Field(
        "sft",
        description="What the run optimises: sft (supervised), dpo, orpo, kto, simpo (preference tuning "
        "through TRL), reward (a reward model) or grpo (online, with `train.reward`). With an adapter "
        "method the frozen base with the adapter disabled is the reference, so one model is in memory.",
    )
    beta: float = Field(
        0.1,
        gt=0,
        description="dpo/kto/orpo/simpo/grpo: TRL's beta. dpo/kto: strength of the pull towards the "
        "reference (the IPO loss reads it as tau); orpo: weight of the odds-ratio term (lambda); simpo: "
        "reward scale (the SimPO paper uses 2.0-2.5); grpo: the KL coefficient. 0.1 is TRL's default.",
    )
    loss_type: DPO_LOSSES = Field(
        "sigmoid",
        description="dpo: the preference loss, as TRL 1.16's DPOConfig names them: sigmoid (the DPO "
        "paper), hinge (SLiC), ipo, robust, exo_pair, nca_pair, bco_pair, sppo_hard, aot, aot_unpaired, "
        "apo_zero, apo_down, discopop, sigmoid_norm, sft (the chosen answers' NLL only).",
    )
    label_smoothing: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="dpo/simpo: assumed share of pairs whose preference label is flipped (cDPO / robust "
        "losses); 0 trusts every label. exo_pair needs it above 0 (the EXO paper suggests 1e-3).",
    )
    simpo_gamma: float = Field(
        0.5,
        ge=0,
        description="simpo: the target reward margin (gamma) between chosen and rejected; TRL's default.",
    )
    desirable_weight: float = Field(
        1.0,
        gt=0,
        description="kto: loss weight of desirable (label true) answers; raise it when they are fewer, so "
        "desirable_weight x #desirable / (undesirable_weight x #undesirable) lies in [1, 4/3] (KTO paper).",
    )
    undesirable_weight: float = Field(
        1.0, gt=0, description="kto: loss weight of undesirable (label false) answers."
    )
    precompute_ref_logps: bool = Field(
        False,
        description="dpo with full/freeze: compute the reference log-probabilities once before training "
        "(one pass over the data) instead of keeping a reference copy of the model in memory.",
    )
    reward: list[str] = Field(
        default_factory=list,
        description="grpo: reward(s) for the sampled answers, summed: a reward-model folder (a run of "
        "--objective reward, or its model/), `module:function` (called as f(prompts, completions, "
        "**columns) -> list[float]), or a built-in: exact, contains, f1 (against the data's answer), json "
        "(valid JSON), length (penalty above max_completion_length/2). `--reward` on the command line.",
    )
    num_generations: int = Field(
        4,
        ge=2,
        description="grpo: answers sampled per prompt, compared within their group (TRL's default is 8; "
        "4 halves the generation cost). The global batch must be a multiple of it.",
    )
    max_completion_length: int = Field(
        64, gt=0, description="grpo: tokens generated per sampled answer (TRL's default is 256)."
    )
    temperature: float = Field(1.0, gt=0, description="grpo: sampling temperature of the generated answers.")

    @field_validator("reward", mode="before")
    @classmethod
    def _split_rewards(cls, value):
        # `--reward a,b` and `train.reward=exact` arrive as one string.
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _objective_fields(self):
        o = self.objective
        if o == "dpo" and self.loss_type == "exo_pair" and self.label_smoothing == 0:
            # TRL raises this inside DPOTrainer, after the model loaded; said here it costs nothing.
            raise ValueError("train.loss_type=exo_pair needs train.label_smoothing > 0 (the EXO paper: 1e-3)")
        if o == "kto" and getattr(self, "micro_batch_size", 2) < 2:
            # TRL's KL estimate pairs answers with other rows' prompts inside one micro-batch.
            raise ValueError(
                "train.objective=kto needs train.micro_batch_size >= 2 (its KL term pairs rows in a batch)"
            )
        if o == "grpo" and getattr(self, "micro_batch_size", 0) % self.num_generations:
            # TRL samples num_generations answers per prompt inside one batch of completions.
            raise ValueError(
                f"train.objective=grpo needs train.micro_batch_size to be a multiple of train.num_generations "
                f"({self.num_generations}): each micro-batch holds whole groups of answers to one prompt"
            )
        if o == "grpo" and not self.reward:
            raise ValueError(
                "train.objective=grpo needs a reward: --reward RUN_DIR (a reward model), module:function, or "
                "a built-in (exact, contains, f1, json, length)"
            )
        return self


def ignored_fields(train) -> list[str]:
    """The objective fields set away from their defaults that `train.objective` does not read (a config
    shared by compare's sft and dpo strategies sets beta for the dpo ones); the run names them in a note."""
    out = []
    for name, objectives in READERS.items():
        default = type(train).model_fields[name].get_default(call_default_factory=True)
        if train.objective not in objectives and getattr(train, name) != default:
            out.append(f"train.{name} (read by {'/'.join(objectives)})")
    return out


# The objectives' summary.json figures, each recorded as <key>_before / <key>_after, as tables label them.
PREFERENCE_FIGURES = (
    ("reward margin", "reward_margin"),
    ("preference accuracy", "preference_accuracy"),
    ("mean reward", "reward"),
    ("KL to the reference", "kl"),
)
