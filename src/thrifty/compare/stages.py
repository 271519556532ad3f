"""What compare needs around strategies with objectives and stages: the chosen answers of a pairs file as
SFT data, the hand-over of one stage's model to the next, one summary for a staged strategy, and the
held-out preference figures every strategy is ranked on when any of them tunes on preferences."""

import json
from pathlib import Path
from typing import Any

from thrifty.config.schema import DataConfig, RunConfig

# A staged strategy's cost is the sum of its stages'; its quality and memory are its last stage's (peak:
# the largest).
SUMMED = ("train_seconds", "wall_seconds", "train_tokens", "steps")


def is_pairs_file(path: str | None, config: DataConfig) -> bool:
    from thrifty.eval.preference import is_preference_file

    return bool(path) and is_preference_file(path, config)


def chosen_as_sft(path: str, config: DataConfig, dest: Path) -> Path:
    """The pairs' prompts with their chosen answers as a chat file: what the sft stage of sft+dpo learns
    (the usual recipe: supervised tuning on the preferred answers, then DPO). Same pairs in the same
    order, so the seeded hold-out is the same pairs the preference stages hold out."""
    from thrifty.data.preference import load_pairs

    pairs, _ = load_pairs(path, config)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    lines = (json.dumps({"messages": p["prompt"] + p["chosen"]}) + "\n" for p in pairs)
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(dest)
    return dest


def hand_over(run_dir: Path) -> Path:
    """The stage's model as a plain folder the next stage starts from: the adapter merged into its base
    (the next stage's reference is then this model), or the saved whole model."""
    from thrifty.export.merge import merged_model
    from thrifty.inference.run_folder import load_tokenizer_for, open_run

    run = open_run(run_dir)
    dest = run_dir.with_name(run_dir.name + "-merged")
    tmp = dest.with_name(dest.name + ".partial")
    merged_model(run).save_pretrained(tmp, safe_serialization=True)
    load_tokenizer_for(run).save_pretrained(tmp)
    if dest.exists():
        import shutil

        shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def combined(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """The last stage's summary with the stages' time, tokens and steps summed and the largest peak."""
    summary = dict(stages[-1]["summary"])
    for key in SUMMED:
        summary[key] = sum(s["summary"].get(key) or 0 for s in stages)
    summary["peak_memory_bytes"] = max(s["summary"].get("peak_memory_bytes") or 0 for s in stages)
    return summary


def preference_quality(base: RunConfig, run_dir: Path, staged: bool) -> dict[str, float]:
    """TRL's held-out margin and accuracy of the strategy's final model against the original base, on the
    base config's held-out pairs: the same yardstick for sft, dpo and sft+dpo."""
    from thrifty.data.preference import prepare_pairs
    from thrifty.eval.preference import preference_metrics
    from thrifty.inference.run_folder import load_tokenizer_for, load_tuned, open_run
    from thrifty.models.load import load_model
    from thrifty.models.registry import resolve_model

    run = open_run(run_dir)
    tokenizer = load_tokenizer_for(run)
    rows = prepare_pairs(base.data, tokenizer, base.train.seed).eval
    tuned = load_tuned(run, device="cpu")
    own_base = run.adapter_dir is not None and not staged  # the adapter disabled is the original base
    reference = None if own_base else load_model(resolve_model(base.model.name), base.model).eval()
    beta = base.train.beta
    return preference_metrics(tuned, reference, tokenizer, rows, beta, base.data.max_seq_len)
