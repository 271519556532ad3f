"""ORPO, SimPO and KTO on the tiny model from the real CLI: each trains, saves an adapter that loads and
moved the model, and records its figures; KTO reads labelled answers or unpairs pairs, and refuses one
label only; a SIGKILLed ORPO run resumes bitwise."""

import json

import pytest

from tests.objectives.conftest import dpo_args, pairs, write_jsonl
from tests.train.conftest import assert_same_run, signal_at
from thrifty.cli import main
from thrifty.errors import EXIT_USER_ERROR


def objective_args(objective, model, data, out, *extra, steps=3):
    args = dpo_args(model, data, out, *extra, steps=steps)
    args[args.index("--objective") + 1] = objective
    return args


def assert_adapter_moved(tiny_model, out):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert sorted(p.name for p in (out / "adapter").iterdir() if p.is_dir()) == []  # no "ref" adapter
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), out / "adapter")
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        with tuned.disable_adapter():
            plain = tuned(ids).logits
        assert not torch.equal(tuned(ids).logits, plain)


@pytest.mark.parametrize("objective", ["orpo", "simpo"])
def test_reference_free_objectives_train_save_and_report(objective, tiny_model, pairs_file, tmp_path):
    out = tmp_path / objective
    assert main(objective_args(objective, tiny_model, pairs_file, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == objective and summary["steps"] == 3
    for key in ("reward_margin_before", "reward_margin_after", "preference_accuracy_after"):
        assert isinstance(summary[key], float), key
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert all("rewards/margins" in m for m in metrics if "loss" in m)
    assert_adapter_moved(tiny_model, out)


def kto_rows(labels=(True, False)) -> list[dict]:
    return [
        {
            "prompt": p["prompt"],
            "completion": p["chosen" if i % 2 else "rejected"],
            "label": labels[i % len(labels)],
        }
        for i, p in enumerate(pairs())
    ]


def test_kto_on_labelled_answers(tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "kto.jsonl", kto_rows())
    out = tmp_path / "kto"
    assert main(objective_args("kto", tiny_model, data, out)) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["objective"] == "kto" and summary["data_format"] == "unpaired"
    assert summary["reward_margin_before"] == pytest.approx(0.0, abs=1e-6)  # policy = reference at the start
    assert summary["reward_margin_after"] != 0.0 and summary["kl_after"] is not None
    assert_adapter_moved(tiny_model, out)


def test_kto_unpairs_pairs_without_splitting_a_pair(tiny_model, pairs_file):
    from thrifty.config.load import load_config
    from thrifty.data.preference import prepare_unpaired
    from thrifty.models.load import load_tokenizer

    config = load_config(None, [f"data.path={pairs_file}", "data.val_fraction=0.25"])
    data = prepare_unpaired(config.data, load_tokenizer(str(tiny_model), config.model), 0)
    assert len(data.train) + len(data.eval) == 2 * len(pairs())
    assert sum(r["label"] for r in data.train) == len(data.train) // 2
    # Each held-out pair's two answers are both held out: every held-out prompt has a true and a false row.
    by_prompt: dict[str, set] = {}
    for row in data.eval:
        by_prompt.setdefault(json.dumps(row["prompt"]) + str(id(row) and ""), set()).add(row["label"])
    assert len(data.eval) % 2 == 0 and sum(r["label"] for r in data.eval) == len(data.eval) // 2


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (kto_rows(labels=(True,)), "every label is desirable (true); KTO needs both"),
        ([{"prompt": "q", "completion": "a", "label": "maybe"}] * 4, "label 'maybe' is not true/false"),
        ([{"prompt": "q", "completion": "a"}] * 4, "column 'label' is missing"),
    ],
)
def test_bad_kto_data_is_one_line_exit_2(rows, words, tiny_model, tmp_path, capsys):
    data = write_jsonl(tmp_path / "kto.jsonl", rows)
    out = tmp_path / "kto"
    assert main(objective_args("kto", tiny_model, data, out)) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and words in err[-1], err[-1]
    assert not (out / "summary.json").exists()


def test_kto_needs_micro_batches_of_two(tiny_model, pairs_file, tmp_path, capsys):
    args = objective_args("kto", tiny_model, pairs_file, tmp_path / "k", "train.micro_batch_size=1")
    assert main(args) == EXIT_USER_ERROR
    assert "micro_batch_size >= 2" in capsys.readouterr().err


def test_sigkilled_orpo_resumes_bitwise(tiny_model, pairs_file, tmp_path):
    extra = ("checkpoint.every_steps=2",)
    reference = tmp_path / "reference"
    assert main(objective_args("orpo", tiny_model, pairs_file, reference, *extra, steps=5)) == 0
    out = tmp_path / "run"
    args = objective_args("orpo", tiny_model, pairs_file, out, *extra, steps=5)
    assert signal_at(3, "SIGKILL", "step", args).returncode == -9
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from_step"] == 2
    assert_same_run(reference, out)
