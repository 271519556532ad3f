"""What a compare strategy names: a method (`lora`, `qlora`, `full`: the base config's objective), an
objective (`dpo`, `orpo`: the base config's method), or stages joined by `+` (`sft+dpo`: supervised tuning
on the chosen answers, then DPO starting from the merged result, the usual SFT-then-DPO recipe).

`prune` is a first stage that trains nothing: `prune+lora` prunes the base model (thrifty.compare.prune)
and trains LoRA on the result under the same budget.

`few-shot` trains nothing: the base model with k training examples in each prompt, scored on the same
held-out answers (thrifty.compare.fewshot); it stands alone, never as a stage.

A stage after the first starts from the previous stage's model (merged, when it trained an adapter), and
its reference for reference-based objectives is that model: what a user running the two commands gets.
"""

from dataclasses import dataclass

from thrifty.errors import UserError

SEPARATORS = ("->", "→")  # accepted spellings of "+" between stages
BASELINES = ("few-shot",)  # strategies that evaluate the base model instead of training it
PRUNE = "prune"  # a stage that makes a smaller model for the stages after it


@dataclass(frozen=True)
class Stage:
    method: str | None = None  # None: the base config's
    objective: str | None = None
    prune: bool = False  # prune the model (no training); only as the first of several stages

    def updates(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        if self.method:
            out["method"] = {"name": self.method}
        if self.objective:
            out["train"] = {"objective": self.objective}
        return out


@dataclass(frozen=True)
class Strategy:
    name: str
    stages: tuple[Stage, ...]
    baseline: str | None = None  # one of BASELINES: nothing trains, its one stage is the base config

    @property
    def slug(self) -> str:
        """A name safe for a file or folder (results/<slug>.json, runs/<slug>/)."""
        return self.name.replace("+", "-then-")


def parse_stage(token: str) -> Stage:
    from thrifty.config.objectives import OBJECTIVES
    from thrifty.methods.table import method_names

    if token == PRUNE:
        return Stage(prune=True)
    if token in method_names():
        return Stage(method=token)
    if token in OBJECTIVES:
        return Stage(objective=token)
    raise UserError(
        f"unknown strategy part {token!r}; a strategy is a method ({', '.join(method_names())}), an objective "
        f"({', '.join(OBJECTIVES)}), stages joined by + (e.g. sft+dpo, prune+lora), or the untrained baseline "
        f"{' or '.join(BASELINES)}"
    )


def parse_strategy(text: str) -> Strategy:
    name = text.strip()
    for sep in SEPARATORS:
        name = name.replace(sep, "+")
    tokens = [t.strip() for t in name.split("+")]
    if name in BASELINES:
        return Strategy(name, (Stage(),), baseline=name)
    if any(t in BASELINES for t in tokens):
        raise UserError(
            f"strategy {text!r}: few-shot trains nothing, so it cannot be a stage; list it on its own "
            "(--strategies few-shot,lora)"
        )
    if any(not t for t in tokens):
        raise UserError(f"strategy {text!r} has an empty stage; join stages with + (e.g. sft+dpo)")
    stages = tuple(parse_stage(t) for t in tokens)
    if any(s.prune for s in stages) and (
        not stages[0].prune or len(stages) == 1 or any(s.prune for s in stages[1:])
    ):
        raise UserError(
            f"strategy {text!r}: prune trains nothing, so it comes first and once, before a training "
            "stage (e.g. prune+lora)"
        )
    return Strategy("+".join(tokens), stages)


def parse_strategies(text: str | None, default: tuple[str, ...]) -> list[Strategy]:
    parts = [s for s in (text or ",".join(default)).split(",") if s.strip()]
    if not parts:
        raise UserError("no strategy given; pass --strategies lora,qlora (methods, objectives or sft+dpo)")
    strategies = {s.name: s for s in map(parse_strategy, parts)}  # duplicates once, in order
    return list(strategies.values())
