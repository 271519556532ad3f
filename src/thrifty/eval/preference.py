"""Preference figures of a run on held-out pairs: TRL's reward margin and preference accuracy of the
tuned model against the base as reference (the numbers DPO training logs, on the same pairs), and the
win rate of the tuned model's answers over the base's under a judge.

The margin and accuracy come from TRL's DPOTrainer.evaluate() (the DPO implicit reward
beta * log pi/pi_ref), so `thrifty eval` and the run's summary.json agree; nothing here recomputes a
preference loss. The reference is the base: the adapter disabled (one model in memory) or, for a run
that saved a whole model, the base loaded beside it.
"""

import tempfile
from typing import Any

from thrifty.errors import UserError

# TRL logs these over the eval pairs; the report's names for them.
TRL_KEYS = {
    "reward_margin": "eval_rewards/margins",
    "preference_accuracy": "eval_rewards/accuracies",
    "chosen_reward": "eval_rewards/chosen",
    "rejected_reward": "eval_rewards/rejected",
    "chosen_logps": "eval_logps/chosen",
    "rejected_logps": "eval_logps/rejected",
}


def is_preference_file(path: str, config) -> bool:
    """True when the file's first record has chosen and rejected columns (a pairs file)."""
    from thrifty.data.readers import read_records

    records = read_records(path, config.split)
    return bool(records) and "chosen" in records[0] and "rejected" in records[0]


def held_out_pairs(run, data_path: str | None, tokenizer) -> tuple[list[dict], list[dict], str]:
    """(TRL-ready rows, canonical message pairs, source) of --data, else the run's own held-out pairs
    (the same seeded split training made)."""
    from thrifty.data.preference import for_trainer, load_pairs, prepare_pairs

    config = run.config.data
    if data_path:
        pairs, _ = load_pairs(data_path, config)
        rows = [for_trainer(p, tokenizer, config.system_prompt) for p in pairs]
        return rows, pairs, data_path
    prepared = prepare_pairs(config, tokenizer, run.config.train.seed)
    source = (
        config.eval_path or f"{config.path} (held-out {config.val_fraction:g}, seed {run.config.train.seed})"
    )
    return prepared.eval, prepared.eval_examples, source


def as_answers(pairs: list[dict]) -> list[dict]:
    """Each pair as a supervised example, prompt + the chosen answer, so perplexity and generation
    score the tuned and base models against the preferred answer."""
    return [{"messages": pair["prompt"] + pair["chosen"]} for pair in pairs]


def run_beta(config) -> float:
    """The run's beta when it trained on preferences with one, else TRL's default (0.1)."""
    t = config.train
    return t.beta if t.objective in ("dpo", "kto", "orpo", "simpo") else 0.1


def preference_metrics(
    tuned,
    reference,
    tokenizer,
    rows: list[dict],
    beta: float,
    max_length: int,
    batch_size: int = 8,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, float]:
    """TRL's held-out preference figures of `tuned` against `reference` (None: `tuned` is a PeftModel
    whose base, the adapter disabled, is the reference)."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import DPOConfig, DPOTrainer

    from thrifty.methods.adapters import drop_reference_adapter

    if not rows:
        raise UserError("no preference pairs to evaluate")
    with tempfile.TemporaryDirectory(prefix="thrifty-eval-") as out:
        args = DPOConfig(
            output_dir=out,
            beta=beta,
            max_length=max_length,
            per_device_eval_batch_size=batch_size,
            bf16=False,
            fp16=False,
            use_cpu=device == "cpu",
            report_to="none",
            disable_tqdm=not progress,
            remove_unused_columns=False,
        )
        dataset = Dataset.from_list(rows)
        trainer = DPOTrainer(
            model=tuned,
            ref_model=reference,
            args=args,
            train_dataset=dataset,
            eval_dataset=dataset,
            processing_class=tokenizer,
        )
        drop_reference_adapter(trainer.model)  # the reference is the base, not a copy of the trained adapter
        trainer.remove_callback(PrinterCallback)  # it prints the raw dict to stdout, where --json goes
        metrics = trainer.evaluate()
    out = {name: float(metrics[key]) for name, key in TRL_KEYS.items() if key in metrics}
    return {"beta": beta, "pairs": len(rows), **out}


def win_rate(tuned_scores: list[float], base_scores: list[float]) -> dict[str, float]:
    """Share of prompts where the tuned answer scores above the base's under the judge; a tie counts
    half (the usual convention of pairwise win rates)."""
    if not tuned_scores:
        return {}
    wins = sum(t > b for t, b in zip(tuned_scores, base_scores, strict=True))
    ties = sum(t == b for t, b in zip(tuned_scores, base_scores, strict=True))
    n = len(tuned_scores)
    return {"win_rate": (wins + 0.5 * ties) / n, "wins": wins, "ties": ties, "losses": n - wins - ties}


def judge_scores(per_example: list[dict[str, Any]], metric: str) -> list[float]:
    """One judge score per example from eval's per-example metric values."""
    return [float(row[metric]) for row in per_example]
