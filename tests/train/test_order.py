"""data.order: length and curriculum orders are deterministic, train reads them in order, and a stopped
run resumes with the order its checkpoint stored (not a new scoring) and ends as the uninterrupted run."""

import json

import pytest
import torch

from tests.train.conftest import PLAIN, assert_same_run, signal_at, train_args
from thrifty.cli import main
from thrifty.curate import order
from thrifty.errors import EXIT_PREEMPTED, EXIT_USER_ERROR

CURRICULUM = [*PLAIN, "data.order=curriculum"]


def rows_of(lengths):
    return [{"input_ids": list(range(n)), "labels": list(range(n))} for n in lengths]


def test_length_order_is_shortest_first_and_stable():
    rows = rows_of([5, 3, 9, 3, 1])
    ordered, state = order.ordered_rows(None, rows, "length", {}, "fp")
    assert [len(r["input_ids"]) for r in ordered] == [1, 3, 3, 5, 9]
    assert state["data_order"]["indices"] == [4, 1, 3, 0, 2]


def test_shuffle_leaves_the_rows_to_the_sampler():
    rows = rows_of([5, 3])
    assert order.ordered_rows(None, rows, "shuffle", {}, "fp") == (rows, {})


def test_curriculum_is_easy_to_hard_by_base_loss_and_deterministic(tiny_model):
    from transformers import AutoModelForCausalLM

    from thrifty.curate.score import answer_losses

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    torch.manual_seed(0)
    rows = [{"input_ids": t, "labels": t} for t in torch.randint(0, 200, (12, 16)).tolist()]
    first, state = order.ordered_rows(model, rows, "curriculum", {}, "tiny")
    again, _ = order.ordered_rows(model, rows, "curriculum", {}, "tiny")
    assert first == again
    losses = answer_losses(model, first, progress=False)
    assert losses == sorted(losses)
    resumed, _ = order.ordered_rows(None, rows, "curriculum", state, "tiny")  # no model: from the state
    assert resumed == first


def test_curriculum_stopped_and_resumed_replays_the_stored_order(tiny_model, faq_file, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    assert main(train_args(tiny_model, faq_file, reference, CURRICULUM)) == 0
    out = tmp_path / "run"
    args = train_args(tiny_model, faq_file, out, CURRICULUM)
    stopped = signal_at(5, "SIGTERM", "step", args)
    assert stopped.returncode == EXIT_PREEMPTED, stopped.stderr[-2000:]

    def no_rescoring(*_):
        raise AssertionError("a resume must take the order from its checkpoint")

    monkeypatch.setitem(order.ORDERS, "curriculum", no_rescoring)
    assert main(args + ["--resume", "auto"]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_from_step"] == 5
    assert_same_run(reference, out)


def test_curriculum_trains_differently_from_shuffle(tiny_model, faq_file, tmp_path):
    runs = {}
    for name in ("shuffle", "curriculum"):
        runs[name] = tmp_path / name
        assert (
            main(train_args(tiny_model, faq_file, runs[name], [*PLAIN, f"data.order={name}"], steps=4)) == 0
        )
    losses = {
        n: [json.loads(x).get("loss") for x in (p / "metrics.jsonl").read_text().splitlines()]
        for n, p in runs.items()
    }
    assert losses["shuffle"] != losses["curriculum"]


def test_order_on_a_preference_objective_is_refused(tiny_model, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "a?", "chosen": "yes", "rejected": "no"}) + "\n")
    args = train_args(tiny_model, pairs, tmp_path / "run", ["train.objective=dpo", "data.order=length"])
    assert main(args) == EXIT_USER_ERROR
    assert "data.order=shuffle" in capsys.readouterr().err
    assert not (tmp_path / "run" / "summary.json").exists()


@pytest.mark.parametrize("value", ["random", "hardest"])
def test_unknown_order_is_a_config_error(tiny_model, faq_file, tmp_path, capsys, value):
    assert (
        main(train_args(tiny_model, faq_file, tmp_path / "run", [f"data.order={value}"])) == EXIT_USER_ERROR
    )
    assert "data.order" in capsys.readouterr().err
