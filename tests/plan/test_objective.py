"""The planner counts what a preference objective runs: two sequences per example, a reference copy of
the weights for full/freeze (none when precomputed, none with an adapter), the reference forward."""

import json

from thrifty.cli import main
from thrifty.config.schema import MethodConfig
from thrifty.plan.planner import PlanRequest, make_plan


def plan(model, method="lora", objective="sft", precompute=False):
    return make_plan(
        PlanRequest(
            model=str(model),
            method=MethodConfig(name=method),
            seq_len=64,
            micro_batch=2,
            device="cpu",
            precision="fp32",
            objective=objective,
            precompute_ref_logps=precompute,
        )
    )


def test_pairs_double_the_activations_and_add_the_reference_forward(tiny_model):
    sft, dpo = plan(tiny_model), plan(tiny_model, objective="dpo")
    assert dpo["memory"]["activations"] > 1.9 * sft["memory"]["activations"]
    assert dpo["memory"]["weights"] == sft["memory"]["weights"]  # the adapter-disabled base is the reference
    assert dpo["reference_weights_bytes"] == 0
    assert dpo["flops"] == sft["flops"] * (1 + 1 / 3)
    orpo = plan(tiny_model, objective="orpo")  # no reference: no extra forward
    assert orpo["flops"] == sft["flops"] and orpo["memory"]["activations"] == dpo["memory"]["activations"]


def test_full_dpo_holds_a_reference_copy_unless_precomputed(tiny_model):
    sft, dpo = plan(tiny_model, "full"), plan(tiny_model, "full", "dpo")
    assert dpo["reference_weights_bytes"] == sft["base_params"] * 4  # fp32 on a CPU
    assert dpo["memory"]["weights"] == sft["memory"]["weights"] + dpo["reference_weights_bytes"]
    pre = plan(tiny_model, "full", "dpo", precompute=True)
    assert pre["reference_weights_bytes"] == 0 and pre["flops"] == sft["flops"]


def test_a_reward_model_holds_no_vocabulary_logits(tiny_model):
    assert plan(tiny_model, objective="reward")["memory"]["loss_transient"] == 0
    assert plan(tiny_model)["memory"]["loss_transient"] > 0


def test_the_plan_flag(tiny_model, capsys):
    args = ["plan", "--model", str(tiny_model), "--method", "full", "--cpu", "--json", "--seq-len", "64"]
    assert main([*args, "--objective", "dpo"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["objective"] == "dpo" and out["reference_weights_bytes"] > 0
