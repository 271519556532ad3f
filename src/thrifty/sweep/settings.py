"""The `sweep:` section of a sweep file: what to search, how, and within which budget."""

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from thrifty.config.schema import Section
from thrifty.errors import UserError

SamplerName = Literal["grid", "random", "lhs", "sobol", "tpe"]
PrunerName = Literal["none", "halving", "hyperband", "median"]
# Objectives a trial reports. `accuracy` (the task metric) and the held-out preference figures of
# preference runs are maximised, the others minimised.
ObjectiveName = Literal[
    "eval_loss",
    "accuracy",
    "preference_accuracy",
    "reward_margin",
    "cost_usd",
    "train_seconds",
    "latency_ms_per_token",
]
MAXIMISED = {"accuracy", "preference_accuracy", "reward_margin"}


class SweepSettings(Section):
    domain: str = Field("default", description="Name of the data's domain; results.jsonl rows carry it.")
    sampler: SamplerName = Field("lhs", description="grid | random | lhs (Latin hypercube) | sobol | tpe.")
    trials: int | None = Field(
        None, gt=0, description="Trials to run in total (grid: default and at most the grid size)."
    )
    seed: int = Field(0, description="Sampler seed: the same seed and space give the same configs.")
    space: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted config field -> {low, high, log, step} or {choices: [...]}, e.g. "
        "method.rank: {choices: [4, 8, 16]}.",
    )
    objectives: list[ObjectiveName] = Field(
        default_factory=lambda: ["eval_loss"],
        description="What to optimise: eval_loss, accuracy (the `metric`, maximised), preference_accuracy or "
        "reward_margin (held-out, of dpo/orpo/simpo/... runs, maximised; a DPO eval loss depends on beta, so "
        "a beta sweep ranks on these), cost_usd, train_seconds or latency_ms_per_token; two or more (e.g. "
        "[accuracy, cost_usd]) report the Pareto set.",
    )
    metric: str | None = Field(
        None,
        description="Task metric scored by `thrifty eval` on each completed trial's generated answers to "
        "held-out questions (exact, contains, f1, rougeL, json, accuracy); results.jsonl stores it as "
        "`accuracy`. Needed for the `accuracy` objective.",
    )
    metric_examples: int = Field(
        20, gt=0, description="Held-out examples the metric generates answers for (time grows with it)."
    )
    metric_max_new_tokens: int = Field(
        64, gt=0, description="Answer length cap (tokens) when scoring the metric."
    )
    metric_labels: list[str] | None = Field(
        None, description="Label set for metric: accuracy (classification); answers are mapped onto it."
    )
    pruner: PrunerName = Field(
        "none", description="Stop weak trials early on their eval loss: halving, hyperband or median."
    )
    search_fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Train trials on this stratified share of the training data and this share of max_steps.",
    )
    evals_per_trial: int = Field(
        4, gt=0, description="Eval-loss reports per trial for the pruner (sets train.eval_every_steps)."
    )
    prune_eval_examples: int | None = Field(
        64,
        gt=0,
        description="Held-out examples the pruner's in-training evaluations use: a fixed seeded sample "
        "(train.seed), the same for every trial; a trial's final eval_loss, its objective, is on the whole "
        "held-out set. null: every evaluation on the whole set.",
    )
    reuse_loads: bool = Field(
        True,
        description="Load the base model and prepare the data once per worker, and give each trial an "
        "exact copy (host memory: one more copy of the base weights); false loads both for every trial. "
        "4/8-bit bases are loaded for every trial either way.",
    )
    budget_minutes: float | None = Field(
        None, gt=0, description="Stop starting trials after this many minutes."
    )
    budget_dollars: float | None = Field(
        None, gt=0, description="Stop starting trials once the trials' summed cost_usd reaches this."
    )
    gpu: str | None = Field(None, description="Price trials on this GPU (planner catalog), e.g. a10g.")
    usd_per_hour: float | None = Field(
        None, gt=0, description="Price measured training seconds at this $/h when no `gpu` is given."
    )
    storage: str | None = Field(
        None, description="SQLAlchemy URL of the Optuna storage; default sqlite:///SWEEP/study.db."
    )
    study_name: str | None = Field(None, description="Optuna study name; default the sweep folder's name.")
    workers: int = Field(1, gt=0, description="Local worker processes sharing the storage.")
    warm_start: int = Field(0, ge=0, description="Enqueue the top-N `thrifty autotune` suggestions first.")
    results_from: list[str] = Field(
        default_factory=list, description="results.jsonl files for --warm-start (default: all under runs/)."
    )

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.objectives) > 1 and self.pruner != "none":
            raise ValueError("pruning needs a single objective; set pruner: none for multi-objective sweeps")
        if len(set(self.objectives)) != len(self.objectives):
            raise ValueError("objectives are listed twice")
        if "accuracy" in self.objectives and not self.metric:
            raise ValueError("the accuracy objective needs a task metric: set metric (e.g. f1 or rougeL)")
        if self.metric:
            self._check_metric()
        if self.budget_dollars and not (self.gpu or self.usd_per_hour):
            raise ValueError("budget_dollars needs gpu or usd_per_hour to price the trials")
        return self

    def _check_metric(self) -> None:
        from thrifty.eval.metrics import ALL_METRICS

        if self.metric not in ALL_METRICS:
            raise ValueError(f"metric {self.metric!r} is unknown; choose from {', '.join(ALL_METRICS)}")
        if self.metric == "accuracy" and not self.metric_labels:
            raise ValueError("metric: accuracy needs metric_labels, the label set to classify into")

    def direction(self, objective: str) -> str:
        return "maximize" if objective in MAXIMISED else "minimize"


def read_sweep_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run-config mapping without `sweep`, the `sweep` mapping)."""
    from thrifty.config.load import read_yaml

    raw = read_yaml(path)
    sweep = raw.pop("sweep", None)
    if not isinstance(sweep, dict):
        raise UserError(f"{path}: a sweep file needs a `sweep:` section with a `space:` mapping")
    return raw, sweep


def parse_settings(raw: dict[str, Any], source: str) -> SweepSettings:
    from thrifty.config.load import describe_validation_error

    try:
        return SweepSettings.model_validate(raw)
    except ValidationError as exc:
        raise UserError(f"{source}: sweep.{describe_validation_error(exc)}") from None


def check_objective_data(settings: SweepSettings, config, source: str) -> None:
    """A task metric scores answers generated for held-out questions against their reference answers:
    refuse data that has none (plain text) or whose answers are outside metric_labels, before any
    trial trains (otherwise `thrifty eval` would stop the sweep after the first trial's training)."""
    if not settings.metric or not config.data.path:
        return
    where, fmt, references = held_out_references(config, settings.metric_examples)
    if not references:
        raise UserError(
            f"{source}: sweep.metric {settings.metric} scores generated answers against reference answers, "
            f"but {where} is plain text ({fmt} format) with no answers to score; use an instruction format "
            "(alpaca, chat, sharegpt, prompt_completion), or drop sweep.metric and the accuracy objective "
            "to rank trials by eval_loss"
        )
    if settings.metric_labels:
        from thrifty.eval.metrics import to_label

        bad = next((r for r in references if to_label(r, settings.metric_labels) is None), None)
        if bad is not None:
            raise UserError(
                f"{source}: held-out answer {bad[:60]!r} in {where} is none of sweep.metric_labels "
                f"({', '.join(settings.metric_labels)}); list every label the answers use"
            )


def held_out_references(config, count: int) -> tuple[str, str, list[str]]:
    """(source, format, reference answers) of the first `count` held-out examples, the ones a
    trial's task metric scores: data.eval_path, else the seeded hold-out of data.path, as
    `thrifty eval` picks them."""
    from thrifty.data import held_out_examples

    examples, fmt, where = held_out_examples(config.data, config.train.seed)
    references = []
    for example in examples[:count]:
        answers = [m["content"] for m in example.get("messages") or [] if m["role"] == "assistant"]
        references += answers[-1:]  # the last assistant turn is what the model answers
    return where, fmt, references
