"""Simple preference optimisation through TRL's CPOTrainer with loss_type="simpo" (trl.experimental in
1.16): length-normalised log-probabilities with a target margin `train.simpo_gamma`, no reference
model. cpo_alpha=0 gives SimPO proper (CPO's extra NLL term off). `train.beta` is SimPO's reward scale
(the paper uses 2.0-2.5; thrifty keeps TRL's 0.1 default so one beta field means the same default for
every objective)."""

from thrifty.objectives.common import PAIR_FIGURES, figures, pairs_data, trl_trainer
from thrifty.objectives.registry import Objective, register


def prepare_data(config, tokenizer, seed: int):
    return pairs_data(config, tokenizer, seed)


def arguments(config):
    from thrifty.objectives.experimental import quiet_import

    CPOConfig = quiet_import("trl.experimental.cpo", "CPOConfig")
    t = config.train
    return CPOConfig, {
        "loss_type": "simpo",
        "cpo_alpha": 0.0,
        "beta": t.beta,
        "simpo_gamma": t.simpo_gamma,
        "label_smoothing": t.label_smoothing,
        "max_length": config.data.max_seq_len,
    }


def build(model, args, data, collate, tokenizer, callbacks, config=None):
    from thrifty.objectives.experimental import quiet_import

    trainer_class = quiet_import("trl.experimental.cpo", "CPOTrainer")
    return trl_trainer(trainer_class, model, args, data, tokenizer, callbacks)


def summary(before: dict[str, float], after: dict[str, float]) -> dict:
    return figures(before, after, PAIR_FIGURES)


register(
    Objective(
        name="simpo",
        prepare_data=prepare_data,
        arguments=arguments,
        build=build,
        summary=summary,
        thrifty_batches=False,
    )
)
