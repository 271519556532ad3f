"""The objective registry and the schema name the same objectives; DPO's fields are validated."""

import typing

import pytest

from thrifty.config.load import load_config
from thrifty.config.schema import TrainConfig
from thrifty.errors import UserError
from thrifty.objectives import get_objective, objective_names


def test_schema_literal_names_exactly_the_registered_objectives():
    from thrifty.config.objectives import OBJECTIVES

    allowed = typing.get_args(TrainConfig.model_fields["objective"].annotation)
    assert sorted(allowed) == sorted(OBJECTIVES) == objective_names()
    assert {"sft", "dpo", "orpo", "kto", "simpo", "reward", "grpo"} <= set(allowed)
    assert get_objective("sft").thrifty_batches and not get_objective("dpo").thrifty_batches


def test_loss_types_are_the_ones_trl_dpo_accepts():
    import inspect

    from trl import DPOConfig

    help_text = DPOConfig.__dataclass_fields__["loss_type"].metadata["help"]
    for loss in typing.get_args(TrainConfig.model_fields["loss_type"].annotation):
        assert f"`'{loss}'`" in help_text, loss
    assert "max_prompt_length" not in inspect.signature(DPOConfig).parameters  # so thrifty has no such field


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("train.beta=0", "train.beta"),
        ("train.beta=-1", "train.beta"),
        ("train.loss_type=nope", "train.loss_type"),
        ("method.name=scratch", "needs a pretrained model"),
        ("method.name=prompt", "needs a pretrained model"),
        ("train.precompute_ref_logps=true", "applies to dpo/kto with method full or freeze"),
    ],
)
def test_bad_dpo_settings_are_one_line(override, words):
    with pytest.raises(UserError) as err:
        load_config(None, ["train.objective=dpo", override])
    assert "\n" not in str(err.value) and words in str(err.value)


def test_exo_pair_needs_label_smoothing():
    with pytest.raises(UserError, match="label_smoothing"):
        load_config(None, ["train.objective=dpo", "train.loss_type=exo_pair"])
    load_config(None, ["train.objective=dpo", "train.loss_type=exo_pair", "train.label_smoothing=0.001"])


def test_dpo_config_carries_the_run_arguments(tmp_path):
    """DPOConfig's own defaults (bf16 on, lr 1e-6, checkpointing on, logging every 10) never leak in."""
    from trl import DPOConfig

    from thrifty.train.trainer import training_arguments

    config = load_config(None, ["train.objective=dpo", "train.beta=0.3", "train.learning_rate=3e-4"])
    sft = training_arguments(config, "fp32", tmp_path)
    dpo = training_arguments(config, "fp32", tmp_path, "single", *get_objective("dpo").arguments(config))
    assert isinstance(dpo, DPOConfig) and dpo.beta == 0.3 and dpo.loss_type == ["sigmoid"]
    for name in (
        "seed", "data_seed", "learning_rate", "max_steps", "bf16", "fp16", "save_strategy", "report_to",
        "logging_steps", "activation_checkpointing", "per_device_train_batch_size", "lr_scheduler_type",
        "warmup_steps", "optim", "use_cpu", "remove_unused_columns",
    ):  # fmt: skip
        assert getattr(dpo, name) == getattr(sft, name), name
    assert dpo.max_length == config.data.max_seq_len


def test_fields_the_objective_does_not_read_are_named():
    from thrifty.config.objectives import ignored_fields

    config = load_config(None, ["train.beta=0.3", "train.num_generations=8"])
    assert sorted(ignored_fields(config.train)) == [
        "train.beta (read by dpo/orpo/kto/simpo/grpo)",
        "train.num_generations (read by grpo)",
    ]
    assert ignored_fields(load_config(None, ["train.objective=dpo", "train.beta=0.3"]).train) == []
