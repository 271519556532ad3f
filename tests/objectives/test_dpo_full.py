"""DPO with methods that train the base weights (full, freeze): the reference is a frozen copy of the
model as loaded, or, with train.precompute_ref_logps, no model at all (log-probs computed once)."""

import json

import pytest

from tests.objectives.conftest import dpo_args
from thrifty.cli import main


def _trainer(tiny_model, pairs_file, tmp_path, *overrides):
    from thrifty.config.load import load_config
    from thrifty.models.load import load_tokenizer
    from thrifty.objectives import get_objective
    from thrifty.train.trainer import build_model, build_trainer

    config = load_config(
        None, [f"model.name={tiny_model}", f"data.path={pairs_file}", "train.objective=dpo", *overrides]
    )
    tokenizer = load_tokenizer(str(tiny_model), config.model)
    data = get_objective("dpo").prepare_data(config.data, tokenizer, config.train.seed)
    model = build_model(str(tiny_model), config)
    trainer, _ = build_trainer(model, data, config, None, "fp32", tmp_path, False, tokenizer=tokenizer)
    return trainer


@pytest.mark.parametrize("method", ["full", "freeze"])
def test_the_reference_is_a_frozen_copy_that_training_leaves_alone(tiny_model, pairs_file, tmp_path, method):
    import torch

    trainer = _trainer(tiny_model, pairs_file, tmp_path, f"method.name={method}", "train.max_steps=2")
    ref, policy = trainer.ref_model, trainer.model
    assert ref is not None and ref is not policy
    assert not any(p.requires_grad for p in ref.parameters())
    policy_ptrs = {p.data_ptr() for p in policy.parameters()}
    assert not policy_ptrs & {p.data_ptr() for p in ref.parameters()}  # its own storage
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())  # = the model as loaded
    trainer.train()
    assert all(torch.equal(before[k], v) for k, v in ref.state_dict().items())
    assert any(not torch.equal(before[k], v) for k, v in policy.state_dict().items())


def test_precomputed_reference_holds_no_second_model(tiny_model, pairs_file, tmp_path):
    trainer = _trainer(
        tiny_model, pairs_file, tmp_path, "method.name=full", "train.precompute_ref_logps=true"
    )
    assert trainer.ref_model is None
    for dataset in (trainer.train_dataset, trainer.eval_dataset):
        assert {"ref_chosen_logps", "ref_rejected_logps"} <= set(dataset.column_names)


@pytest.mark.parametrize("extra", [[], ["train.precompute_ref_logps=true"]], ids=["copy", "precomputed"])
def test_full_dpo_from_the_cli_saves_the_whole_model(tiny_model, pairs_file, tmp_path, extra):
    out = tmp_path / "run"
    assert main(dpo_args(tiny_model, pairs_file, out, "method.name=full", *extra, steps=2)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "dpo" and summary["method"] == "full"
    assert summary["reward_margin_before"] == 0.0  # the policy starts as the reference
    assert summary["reward_margin_after"] != 0.0
    assert (out / "model" / "model.safetensors").exists() and not (out / "adapter").exists()
