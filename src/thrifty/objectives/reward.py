"""A reward model through TRL's RewardTrainer: the model's body with a one-score head learns to score the
chosen answer above the rejected one (the Bradley-Terry loss is TRL's). With LoRA the head trains and is
saved beside the adapter (peft's SEQ_CLS task keeps `score` in modules_to_save). The run folder then
serves GRPO's `train.reward` and loads through thrifty.inference.run_folder like any run."""

from thrifty.objectives.common import figures, pairs_data, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    return pairs_data(config, tokenizer, seed)


def arguments(config):
    from trl import RewardConfig

    return RewardConfig, {"max_length": config.data.max_seq_len}


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from trl import RewardTrainer

    return trl_trainer(RewardTrainer, model, args, data, tokenizer, callbacks)


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Held-out share of pairs scored chosen > rejected, and the mean score margin, before and after."""
    return figures(before, after, {"preference_accuracy": "eval_accuracy", "reward_margin": "eval_margin"})


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
