"""Odds-ratio preference optimisation through TRL's ORPOTrainer (trl.experimental in 1.16): SFT on the
chosen answer plus an odds-ratio penalty on the rejected one, with no reference model, so full and
freeze cost no second copy either. `train.beta` is ORPO's lambda. TRL turns dropout off (its
disable_dropout default), as for DPO."""

from thrifty.objectives.common import PAIR_FIGURES, figures, pairs_data, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    return pairs_data(config, tokenizer, seed)


def arguments(config):
    from thrifty.objectives.experimental import quiet_import

    ORPOConfig = quiet_import("trl.experimental.orpo", "ORPOConfig")
    return ORPOConfig, {"beta": config.train.beta, "max_length": config.data.max_seq_len}


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from thrifty.objectives.experimental import quiet_import

    trainer_class = quiet_import("trl.experimental.orpo", "ORPOTrainer")
    return trl_trainer(trainer_class, model, args, data, tokenizer, callbacks)


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    # ORPO logs the same rewards/* keys as DPO (beta x log-prob, no reference)
    return figures(before, after, PAIR_FIGURES)


register(
    Objective(
        name="orpo",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
