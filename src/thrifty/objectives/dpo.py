"""Direct preference optimisation through TRL's DPOTrainer and DPOConfig: thrifty reads and checks the
pairs, TRL tokenizes them, computes the loss and logs the rewards. No DPO maths lives here."""

from thrifty.objectives.common import PAIR_FIGURES, figures, pairs_data, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    return pairs_data(config, tokenizer, seed)


def arguments(config):
    """DPOConfig subclasses TrainingArguments: the run's arguments pass through unchanged (seed, lr,
    steps, precision, save_strategy "no", report_to none: thrifty checkpoints itself) plus these."""
    from trl import DPOConfig

    t = config.train
    return DPOConfig, {
        "beta": t.beta,
        "loss_type": [t.loss_type],
        "label_smoothing": t.label_smoothing,
        # full/freeze: the reference's log-probs once before training instead of a copy in memory
        "precompute_ref_log_probs": t.precompute_ref_logps,
        # prompt + answer tokens of each sequence; TRL's collator cuts longer ones at the end (keep_start)
        "max_length": config.data.max_seq_len,
    }


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from trl import DPOTrainer

    from thrifty.methods.adapters import drop_reference_adapter
    from thrifty.objectives.reference import reference_model

    # ref_model None with an adapter: the base with the adapter disabled is the reference
    trainer = trl_trainer(
        DPOTrainer, model, args, data, tokenizer, callbacks, ref_model=reference_model(model, args)
    )
    drop_reference_adapter(trainer.model)
    return trainer


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """TRL's held-out preference metrics, before and after training (the same pairs both times)."""
    return figures(before, after, PAIR_FIGURES)


register(
    Objective(
        name="dpo",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
