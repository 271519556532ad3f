"""What autotune knows about a data set and a config: size, token lengths, model size, hyperparameters."""

import math
from typing import Any

import numpy as np

from thrifty.config.schema import RunConfig

DATA_FEATURES = ("data_examples", "data_tokens_mean", "data_tokens_p90", "model_params")
CONFIG_FEATURES = (
    "log_rank",
    "alpha_per_rank",
    "dropout",
    "log_lr",
    "log_wd",
    "epochs",
    "all_linear",
    "lora",
)


def data_features(config: RunConfig) -> dict[str, Any]:
    """Training examples and tokens per example (mean, 90th percentile) of `config.data`, and the model's size."""
    from thrifty.models.load import load_tokenizer
    from thrifty.models.registry import resolve_model
    from thrifty.objectives import get_objective
    from thrifty.plan.architecture import resolve_config

    model_path = resolve_model(config.model.name)
    tokenizer = load_tokenizer(model_path, config.model)
    # The objective's own reader: a preference run's rows are pairs, counted by the pair reader.
    data = get_objective(config.train.objective).prepare_data(config.data, tokenizer, config.train.seed)
    lengths = np.array(data.lengths())
    return {
        "data_examples": len(data.train),
        "data_tokens_mean": float(lengths.mean()),
        "data_tokens_p90": float(np.percentile(lengths, 90)),
        "model_params": _model_params(resolve_config(model_path)),
    }


def _model_params(arch) -> int:
    """Parameters of the base model, counted on the meta device (no weights are loaded)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(arch)
    return sum(p.numel() for p in model.parameters())


def config_features(row: dict[str, Any]) -> list[float]:
    """Numeric features of one results row's config (the same order as CONFIG_FEATURES)."""
    rank = row.get("rank") or 1
    return [
        math.log2(rank),
        (row.get("alpha") or 0.0) / rank,
        row.get("dropout") or 0.0,
        math.log10(row["learning_rate"]),
        math.log10(max(row.get("weight_decay") or 0.0, 1e-8)),
        row.get("epochs") or 1.0,
        1.0 if row.get("target_modules") == "all-linear" else 0.0,
        1.0 if row.get("rank") is not None else 0.0,
    ]


def row_features(row: dict[str, Any], data: dict[str, Any]) -> list[float]:
    """Data features (log of sizes) + config features: one model input vector."""
    size = [
        math.log10(max(data.get("data_examples") or 1, 1)),
        data.get("data_tokens_mean") or 0.0,
        data.get("data_tokens_p90") or 0.0,
        math.log10(max(data.get("model_params") or 1, 1)),
    ]
    return size + config_features(row)
