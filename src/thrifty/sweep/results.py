"""results.jsonl: one row per finished trial in the seeds' schema, extended; safe with parallel workers."""

import fcntl
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thrifty.io import append_jsonl

RESULTS = "results.jsonl"


class ResultRow(BaseModel):
    """One finished trial. Fields the seeds named come first; the rest let `thrifty autotune` learn."""

    model_config = ConfigDict(extra="forbid")

    domain: str = Field(description="The sweep file's domain name.")
    model: str = Field(description="Base model name.")
    method: str = Field(description="Fine-tuning method.")
    rank: int | None = Field(description="LoRA rank (adapter methods).")
    alpha: float | None = Field(description="LoRA alpha.")
    dropout: float | None = Field(description="LoRA dropout.")
    learning_rate: float = Field(description="Peak learning rate.")
    weight_decay: float = Field(description="AdamW weight decay.")
    target_modules: list[str] | str = Field(description="Adapted modules ('all-linear' or names).")
    epochs: float = Field(description="Configured epochs (max_steps, when set, wins).")
    max_steps: int | None = Field(description="Configured optimizer steps.")
    eval_loss: float | None = Field(description="Held-out loss after training (null: the trial failed).")
    accuracy: float | None = Field(
        None,
        description="Task metric (sweep.metric, scored by `thrifty eval` on held-out answers); higher is better.",
    )
    metric: str | None = Field(
        None, description="Which task metric `accuracy` holds (exact, f1, rougeL, ...)."
    )
    objective: str = Field("sft", description="What the trial optimised (train.objective: sft, dpo, ...).")
    preference_accuracy: float | None = Field(
        None,
        description="Preference runs: held-out share of pairs whose chosen answer the tuned model prefers.",
    )
    reward_margin: float | None = Field(
        None, description="Preference runs: held-out mean reward margin (chosen minus rejected)."
    )
    train_seconds: float | None = Field(description="Measured training seconds (evaluation excluded).")
    latency_ms_per_token: float | None = Field(
        description="Measured training milliseconds per token (1000 / tokens per second)."
    )
    generation_ms_per_token: float | None = Field(
        None,
        description="Inference milliseconds per generated token while scoring the metric (batched greedy "
        "decoding of the held-out prompts; null without a metric).",
    )
    cost_usd: float | None = Field(
        description="Dollars: planner price on `gpu`, else seconds x usd_per_hour."
    )
    tokens: int | None = Field(description="Tokens trained on.")
    timestamp: str = Field(description="When the trial finished (UTC, ISO 8601).")
    trial_id: int = Field(description="Optuna trial number within the study.")
    state: Literal["complete", "pruned", "fail"] = Field(description="How the trial ended.")
    study: str = Field(description="Optuna study name.")
    sampler: str = Field(description="Sampler that proposed the trial.")
    steps: int | None = Field(description="Optimizer steps actually run (fewer when pruned).")
    search_fraction: float = Field(description="Share of the data and steps the trial trained on.")
    params: dict[str, Any] = Field(description="The sampled space values, by dotted field.")
    data_examples: int | None = Field(description="Training examples in the full data set.")
    data_tokens_mean: float | None = Field(description="Mean tokens per training example.")
    data_tokens_p90: float | None = Field(description="90th percentile tokens per training example.")
    model_params: int | None = Field(description="Total parameters of the model.")
    run_dir: str | None = Field(description="The trial's run folder.")
    duplicate_of: int | None = Field(
        None,
        description="Earlier trial with the same values whose result this row repeats (nothing was trained).",
    )


def append_row(path: Path, row: ResultRow) -> None:
    """Append under an exclusive lock, so rows from parallel workers never interleave."""
    with (path.parent / (path.name + ".lock")).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        append_jsonl(path, row.model_dump(mode="json"))


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
