"""What the TRL-backed objectives share: reading pairs, building a TRL trainer over thrifty's rows, and
turning TRL's held-out metrics into summary fields."""

from typing import Any


def pairs_data(config, tokenizer, seed: int):
    """prompt/chosen/rejected pairs (data.preference), as DPO, ORPO, SimPO and reward models read them."""
    from thrifty.data.preference import prepare_pairs

    return prepare_pairs(config, tokenizer, seed)


def trl_trainer(trainer_class, model, args, data, tokenizer, callbacks, **extra) -> Any:
    """A TRL trainer over the run's rows: TRL tokenizes them (chat template included) and collates."""
    from datasets import Dataset

    return trainer_class(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data.train),
        eval_dataset=Dataset.from_list(data.eval),
        processing_class=tokenizer,
        callbacks=callbacks,
        **extra,
    )


def figures(before: dict[str, float], after: dict[str, float], keys: dict[str, str]) -> dict[str, Any]:
    """{field_before, field_after} for each summary field -> the eval metric TRL logs it as."""
    out = {}
    for field, key in keys.items():
        out[f"{field}_before"] = before.get(key)
        out[f"{field}_after"] = after.get(key)
    return out


# TRL's DPO-style trainers (DPO, ORPO, CPO/SimPO) log these on the held-out pairs.
PAIR_FIGURES = {"reward_margin": "eval_rewards/margins", "preference_accuracy": "eval_rewards/accuracies"}
