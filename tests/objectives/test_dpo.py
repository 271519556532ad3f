"""DPO on the tiny model from the real CLI: trains, saves an adapter that loads, records the preference
figures; the reference is the frozen base (one model in memory); a SIGTERMed run resumes bitwise."""

import json

import pytest

from tests.objectives.conftest import dpo_args
from tests.train.conftest import assert_same_run, signal_at
from thrifty.cli import main
from thrifty.errors import EXIT_PREEMPTED


def test_dpo_trains_saves_a_loadable_adapter_and_records_preference_figures(tiny_model, pairs_file, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    assert main(dpo_args(tiny_model, pairs_file, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "dpo" and summary["steps"] == 3 and summary["data_format"] == "preference"
    # Before training the policy is the reference: every reward is 0, DPO's loss is log 2.
    assert summary["reward_margin_before"] == 0.0 and summary["preference_accuracy_before"] == 0.0
    assert abs(summary["eval_loss_before"] - 0.693147) < 1e-5
    assert summary["reward_margin_after"] != 0.0 and 0.0 <= summary["preference_accuracy_after"] <= 1.0
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "loss" in m]
    assert [m["step"] for m in steps] == [1, 2, 3]
    assert all("rewards/margins" in m and "rewards/accuracies" in m for m in steps)
    timings = {k for m in metrics for k in m if k.endswith(("_runtime", "_per_second", "_time"))}
    assert timings == {"tokens_per_second"}  # thrifty's own; the trainer's timings are left out
    assert sorted(p.name for p in (out / "adapter").iterdir() if p.is_dir()) == []  # no "ref" adapter saved
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    tuned = PeftModel.from_pretrained(base, out / "adapter")
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        with tuned.disable_adapter():
            plain = tuned(ids).logits
        assert not torch.equal(tuned(ids).logits, plain)  # the adapter trained


def test_reference_is_the_base_with_the_adapter_disabled(tiny_model, pairs_file, tmp_path):
    import torch

    from thrifty.config.load import load_config
    from thrifty.models.load import load_tokenizer
    from thrifty.objectives import get_objective
    from thrifty.train.trainer import build_model, build_trainer

    config = load_config(None, [f"model.name={tiny_model}", f"data.path={pairs_file}", "train.objective=dpo"])
    tokenizer = load_tokenizer(str(tiny_model), config.model)
    data = get_objective("dpo").prepare_data(config.data, tokenizer, config.train.seed)
    model = build_model(str(tiny_model), config)
    trainer, _ = build_trainer(model, data, config, None, "fp32", tmp_path, False, tokenizer=tokenizer)
    assert trainer.ref_model is None
    assert list(trainer.model.peft_config) == ["default"]  # TRL's "ref" adapter copy was dropped
    # One copy of the base weights: every frozen tensor is the base's own, nothing else holds a model.
    frozen = [p for p in trainer.model.parameters() if not p.requires_grad]
    base = trainer.model.get_base_model()
    assert len({p.data_ptr() for p in frozen}) == len(
        {p.data_ptr() for p in base.parameters() if not p.requires_grad}
    )
    assert not [
        m
        for m in vars(trainer).values()
        if isinstance(m, torch.nn.Module) and m is not trainer.model and m is not trainer.model_wrapped
    ]
    # TRL's reference pass (compute_ref_log_probs) equals the base model's own log-probs.
    batch = trainer.data_collator([trainer.eval_dataset[0]])
    with torch.no_grad():
        trainer.model.base_model.model.model.layers[0].mlp.down_proj.lora_B["default"].weight.fill_(0.5)
        ref_chosen, _ = trainer.compute_ref_log_probs(trainer.model, batch)
        trainer.model.base_model.model.model.layers[0].mlp.down_proj.lora_B["default"].weight.zero_()
        policy_chosen, _ = trainer.compute_ref_log_probs(trainer.model, batch)
    assert torch.equal(ref_chosen, policy_chosen)  # the adapter's weights do not reach the reference


@pytest.fixture(scope="module")
def uninterrupted(tiny_model, pairs_file, tmp_path_factory):
    reference = tmp_path_factory.mktemp("dpo") / "reference"
    assert main(dpo_args(tiny_model, pairs_file, reference, "checkpoint.every_steps=2", steps=5)) == 0
    return reference


@pytest.mark.parametrize(
    ("signal", "code", "resumed_from"),
    [
        ("SIGTERM", EXIT_PREEMPTED, 3),
        ("SIGKILL", -9, 2),
    ],  # SIGTERM checkpoints step 3; SIGKILL keeps step 2's
)
def test_stopped_then_resume_auto_is_bitwise_equal_to_the_uninterrupted_run(
    tiny_model, pairs_file, tmp_path, uninterrupted, signal, code, resumed_from
):
    reference = uninterrupted
    out = tmp_path / "run"
    args = dpo_args(tiny_model, pairs_file, out, "checkpoint.every_steps=2", steps=5)
    stopped = signal_at(3, signal, "step", args)
    assert stopped.returncode == code, stopped.stderr[-2000:]
    assert not (out / "summary.json").exists()
    assert main(args + ["--resume", "auto"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from_step"] == resumed_from
    assert_same_run(reference, out)
    ref_summary = json.loads((reference / "summary.json").read_text())
    for key in ("reward_margin_before", "reward_margin_after", "preference_accuracy_after"):
        assert summary[key] == ref_summary[key], key
