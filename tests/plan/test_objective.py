"""The planner counts what each objective runs: pairs double the activation term, a frozen reference
copies the weights only where there is no adapter to switch off, and the flag reaches the output."""

import json
from types import SimpleNamespace

import pytest

from thrifty.cli import main
from thrifty.config.schema import MethodConfig, RunConfig
from thrifty.plan.objective import objective_cost
from thrifty.plan.planner import PlanRequest, make_plan

SETTINGS = {"seq_len": 256, "micro_batch": 2, "gpu": None}


def plan(method="lora", objective="sft", model="smollm2-135m", **kw):
    request = PlanRequest(
        model=model, method=MethodConfig(name=method), objective=objective, **SETTINGS, **kw
    )
    return make_plan(request)


def test_dpo_doubles_the_activation_term_and_nothing_else():
    # sft with the model's own loss head, as TRL's dpo computes it (sft trains chunked by default)
    sft, dpo = plan(chunked_loss=False)["memory"], plan(objective="dpo")["memory"]
    assert dpo["activations"] == 2 * sft["activations"] and dpo["loss_transient"] == 2 * sft["loss_transient"]
    same = ("weights", "trainable_weights", "gradients", "optimizer", "overhead", "reference_weights")
    assert all(dpo[k] == sft[k] for k in same)
    # The peak grows by exactly the activation term (activations + logits' gradient), here above the gradients.
    grown = dpo["activations"] + dpo["loss_transient"] - sft["activations"] - sft["loss_transient"]
    assert dpo["total"] - sft["total"] == grown > 0


def test_full_dpo_holds_a_reference_copy_unless_precomputed():
    sft, dpo = plan("full"), plan("full", "dpo")
    copy = dpo["memory"]["reference_weights"]
    assert copy == sft["base_params"] * 2  # the whole base again, in bf16
    assert dpo["peak_memory_bytes"] > sft["peak_memory_bytes"] + copy
    pre = plan("full", "dpo", precompute_ref_logps=True)["memory"]
    assert pre["reference_weights"] == 0 and pre["total"] == dpo["memory"]["total"] - copy
    assert plan("freeze", "kto")["memory"]["reference_weights"] == copy  # kto's reference too


def test_qlora_dpo_adds_no_weights(capsys):
    sft, dpo = plan("qlora", model="qwen2.5-7b"), plan("qlora", "dpo", model="qwen2.5-7b")
    assert dpo["memory"]["reference_weights"] == 0 and dpo["memory"]["weights"] == sft["memory"]["weights"]
    assert dpo["objective"]["reference_weights_bytes"] == 0


def test_time_counts_both_sequences_and_the_reference_forward():
    sft, dpo, orpo = plan(), plan(objective="dpo"), plan(objective="orpo")
    assert dpo["objective"]["trained_tokens"] == 2 * sft["tokens"]
    assert orpo["flops"] == pytest.approx(2 * sft["flops"])  # no reference: twice the sequences only
    assert dpo["flops"] == pytest.approx(orpo["flops"] + dpo["objective"]["extra_forward_flops"])
    kto = plan(objective="kto")
    # Same peak as sft (the KL batch's no-grad forward frees its tensors first), but 3 extra forwards.
    assert kto["memory"]["total"] == plan(chunked_loss=False)["memory"]["total"]  # TRL's plain head
    assert kto["objective"]["extra_forward_flops"] == pytest.approx(
        3 * dpo["objective"]["extra_forward_flops"] / 2
    )


def test_grpo_trains_its_completions_and_pays_for_generating_them():
    sft, grpo = plan(), plan(objective="grpo", num_generations=4, max_completion_length=64)
    o = grpo["objective"]
    assert o["sequence_tokens"] == 256 + 64 and o["trained_tokens"] == int(sft["tokens"] * 4 * 320 / 256)
    assert o["generated_tokens"] == int(sft["tokens"] / 256 * 4 * 64)
    assert grpo["memory"]["activations"] > sft["memory"]["activations"]  # longer sequences, same batch


def test_reward_has_a_score_head_not_vocab_logits():
    dpo, reward = plan(objective="dpo"), plan(objective="reward")
    assert reward["memory"]["loss_transient"] == 0 and reward["objective"]["score_head"]
    assert 0 < reward["memory"]["activations"] < dpo["memory"]["activations"]


def test_cost_table_follows_the_objectives_table():
    assert (
        objective_cost("dpo", "lora").sequences == 2 and not objective_cost("dpo", "lora").reference_weights
    )
    assert not objective_cost("orpo", "full").reference_weights  # orpo/simpo have no reference
    assert objective_cost("grpo", "full").reference_weights


def test_cli_objective_reaches_json_and_table(capsys):
    argv = ["plan", "--model", "qwen2.5-7b", "--method", "qlora", "--gpu", "rtx4090", "--json"]
    assert main([*argv, "--objective", "dpo"]) == 0
    dpo = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    sft = json.loads(capsys.readouterr().out)
    assert dpo["objective"]["name"] == "dpo" and sft["objective"]["name"] == "sft"
    assert dpo["peak_memory_bytes"] > sft["peak_memory_bytes"] and dpo["fit"]["fits"]
    assert main([*argv[:-1], "--objective", "dpo"]) == 0
    assert "objective dpo: 2 sequence(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["plan", "--model", "qwen2.5-7b", "--objective", "ppo"])
    assert refused.value.code == 2


def test_a_dpo_run_is_planned_with_both_sequences(tiny_model):
    from thrifty.plan.for_run import plan_for_run

    def run_plan(objective, lengths):
        # sft with the model's own loss head, as TRL's dpo computes it
        train = {"objective": objective, "chunked_loss": False}
        config = RunConfig.model_validate({"model": {"name": str(tiny_model)}, "train": train})
        data = SimpleNamespace(lengths=lambda: lengths)
        return plan_for_run(config, str(tiny_model), data, "bf16", "cuda")

    # A pair counted as 64 tokens (prompt+chosen plus prompt+rejected) is two sequences of 32.
    sft, dpo = run_plan("sft", [32] * 8), run_plan("dpo", [64] * 8)
    assert dpo["seq_len"] == 32 and dpo["objective"]["sequences_per_forward"] == 2
    assert dpo["memory"]["activations"] == 2 * sft["memory"]["activations"]
    assert dpo["objective"]["trained_tokens"] == 2 * sft["tokens"] == 2 * dpo["tokens"]
