"""Odds-ratio preference optimisation through TRL's ORPOTrainer (trl.experimental in 1.16): SFT on the
chosen answer plus an odds-ratio penalty on the rejected one, with no reference model, so full and
freeze cost no second copy either. `train.beta` is ORPO's lambda. TRL turns dropout off (its
disable_dropout default), as for DPO."""

from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    from thrifty.data.preference import prepare_pairs

    return prepare_pairs(config, tokenizer, seed)


def arguments(config):
    from thrifty.objectives.experimental import quiet_import

    ORPOConfig = quiet_import("trl.experimental.orpo", "ORPOConfig")
    return ORPOConfig, {"beta": config.train.beta, "max_length": config.data.max_seq_len}


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from datasets import Dataset

    from thrifty.objectives.experimental import quiet_import

    ORPOTrainer = quiet_import("trl.experimental.orpo", "ORPOTrainer")
    return ORPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data.train),
        eval_dataset=Dataset.from_list(data.eval),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    from thrifty.objectives.dpo import summary as preference_summary

    return preference_summary(
        before, after
    )  # ORPO logs the same rewards/* keys (beta x log-prob, no reference)


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
