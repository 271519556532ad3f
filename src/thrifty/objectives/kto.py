"""Kahneman-Tversky optimisation through TRL's KTOTrainer: unpaired answers labelled desirable or not,
relative to the frozen reference (with an adapter, the base with the adapter disabled, as for DPO).

TRL's KL term pairs each answer with a neighbour's prompt inside a fixed-order batch, so KTO reads its
rows in order (train_sampling_strategy "sequential") and needs micro-batches of 2 or more; thrifty
shuffles the rows once with the run's seed instead (data.preference.prepare_unpaired)."""

from thrifty.objectives.common import figures, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    from thrifty.data.preference import prepare_unpaired

    return prepare_unpaired(config, tokenizer, seed)


def arguments(config):
    from trl import KTOConfig

    t = config.train
    return KTOConfig, {
        "beta": t.beta,
        "desirable_weight": t.desirable_weight,
        "undesirable_weight": t.undesirable_weight,
        "precompute_ref_log_probs": t.precompute_ref_logps,
        "max_length": config.data.max_seq_len,
        "train_sampling_strategy": "sequential",
    }


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from trl import KTOTrainer

    from thrifty.methods.adapters import drop_reference_adapter
    from thrifty.objectives.reference import reference_model

    trainer = trl_trainer(
        KTOTrainer, model, args, data, tokenizer, callbacks, ref_model=reference_model(model, args)
    )
    drop_reference_adapter(trainer.model)  # TRL copies the fresh adapter as "ref": the base is the same
    return trainer


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Reward margin (desirable minus undesirable rewards) and the KL estimate, before and after."""
    return figures(before, after, {"reward_margin": "eval_rewards/margins", "kl": "eval_kl"})


register(
    Objective(
        name="kto",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
