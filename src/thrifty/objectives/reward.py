"""A reward model through TRL's RewardTrainer: the model's body with a one-score head learns to score the
chosen answer above the rejected one (the Bradley-Terry loss is TRL's). With LoRA the head trains and is
saved beside the adapter (peft's SEQ_CLS task keeps `score` in modules_to_save). The run folder then
serves GRPO's `train.reward` and loads through thrifty.inference.run_folder like any run."""

from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    from thrifty.data.preference import prepare_pairs

    return prepare_pairs(config, tokenizer, seed)


def arguments(config):
    from trl import RewardConfig

    return RewardConfig, {"max_length": config.data.max_seq_len}


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from datasets import Dataset
    from trl import RewardTrainer

    return RewardTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data.train),
        eval_dataset=Dataset.from_list(data.eval),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Held-out share of pairs scored chosen > rejected, and the mean score margin, before and after."""
    out = {}
    for field, key in (("preference_accuracy", "eval_accuracy"), ("reward_margin", "eval_margin")):
        out[f"{field}_before"] = before.get(key)
        out[f"{field}_after"] = after.get(key)
    return out


register(
    Objective(
        name="reward",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
