"""`thrifty data inspect` through the real CLI with the tiny model's tokenizer: the report folder, the
figures in --json, truncation on a planted case, the split training would make, leakage, and the cost
as the planner prices it; bad input ends in exit 2 with nothing written."""

import json
from pathlib import Path

import pytest

from tests.conftest import FAQ
from tests.curate.test_clean import BAD, put, write_jsonl
from tests.curate.test_clean_filters import FAQ_EN
from thrifty.cli import main

CPU_PEAK = 1e11  # FLOP/s this test pretends the CPU reaches (no GEMM timing in tests)


@pytest.fixture(autouse=True)
def fixed_machine(monkeypatch, tmp_path):
    """A fixed CPU peak, and a working folder without past runs (the planner calibrates MFU from ./runs)."""
    from thrifty.plan import compute

    monkeypatch.setattr(compute, "cpu_peak_flops", lambda precision="fp32": CPU_PEAK)
    monkeypatch.chdir(tmp_path)


def inspect(data, model, *extra) -> int:
    return main(["data", "inspect", str(data), "--model", str(model), *extra])


def figures_of(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_inspect_the_faq_writes_the_report_and_prints_every_figure(tiny_model, tmp_path, capsys):
    out = tmp_path / "report"
    assert inspect(FAQ_EN, tiny_model, "--gpu", "t4", "--output", str(out), "--json") == 0
    figures = figures_of(capsys)
    assert (out / "report.md").is_file()
    for png in ("token_lengths.png", "answer_lengths.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"
    assert set(figures) >= {"rows", "format", "split", "tokens", "answers", "duplicates", "languages", "cost"}
    assert (figures["rows"], figures["format"]) == (503, "alpaca")
    assert figures["split"]["train"] + figures["split"]["eval"] == 503
    assert figures["languages"] == {"en": 503}
    assert figures["duplicates"]["exact"] == 0 and figures["duplicates"]["near"] == 0
    tokens = figures["tokens"]
    assert tokens["max_seq_len"] == 512 and tokens["min"] < tokens["median"] < tokens["max"]
    gpu = figures["cost"]["gpu"]
    assert gpu["gpu"] == "t4" and gpu["precision"] == "fp16" and gpu["usd"] > 0 and gpu["minutes"] > 0
    report = (out / "report.md").read_text()
    assert "truncated at 512" in report and "token_lengths.png" in report and "one epoch on t4" in report


def test_the_split_is_the_one_train_makes(tiny_model, tmp_path, capsys):
    from thrifty.config.schema import DataConfig, TrainConfig
    from thrifty.data import split_examples

    data = write_jsonl(tmp_path / "faq.jsonl", FAQ * 5)
    assert inspect(data, tiny_model, "--json") == 0
    split = figures_of(capsys)["split"]
    train, held = split_examples(list(range(20)), DataConfig().val_fraction, TrainConfig().seed)
    assert (split["train"], split["eval"]) == (len(train), len(held)) == (18, 2)
    assert split["eval_source"] == "held-out 0.1 of the file, seed 42"
    assert (tmp_path / "faq-inspect" / "report.md").is_file()  # the default folder: ./<stem>-inspect


def test_truncation_share_on_planted_long_rows(tiny_model, tmp_path, capsys):
    long_answer = {"instruction": "Why?", "input": "", "output": "the building permit " * 30}
    long_prompt = {"instruction": "the building permit " * 30, "input": "", "output": "Yes it is."}
    data = write_jsonl(tmp_path / "faq.jsonl", FAQ * 5 + [long_answer] * 4 + [long_prompt])
    assert inspect(data, tiny_model, "--max-seq-len", "100", "--json") == 0
    tokens = figures_of(capsys)["tokens"]
    assert tokens["truncated"] == 5 and tokens["truncated_share"] == pytest.approx(5 / 25)
    assert tokens["dropped"] == 1  # the long prompt leaves no answer token within 100
    assert tokens["max"] > 100 and tokens["within_max_seq_len"] < tokens["total"]


def test_duplicates_and_leakage_against_an_eval_file(tiny_model, tmp_path, capsys):
    data = write_jsonl(tmp_path / "train.jsonl", FAQ * 2)  # rows 4-7 repeat rows 0-3
    held = write_jsonl(tmp_path / "eval.jsonl", [FAQ[1], {**FAQ[2], "output": FAQ[2]["output"].upper()}])
    assert inspect(data, tiny_model, "--eval", str(held), "--json") == 0
    figures = figures_of(capsys)
    assert figures["split"] == {"train": 8, "eval": 2, "eval_source": str(held)}
    d = figures["duplicates"]
    assert (d["exact"], d["exact_share"]) == (4, 0.5)
    assert (d["leakage"], d["leakage_share"]) == (4, 0.5)  # FAQ[1] and FAQ[2], twice each


def test_degenerate_answers_are_counted(tiny_model, tmp_path, capsys):
    rows = FAQ * 2 + [
        {"instruction": "Is it?", "input": "", "output": "Y"},  # one token
        {"instruction": "What is a permit?", "input": "", "output": "What is a permit?"},
        {"instruction": "And then?", "input": "", "output": "Call us today. " * 6},
    ]
    assert inspect(write_jsonl(tmp_path / "faq.jsonl", rows), tiny_model, "--json") == 0
    answers = figures_of(capsys)["answers"]
    assert (answers["near_empty"], answers["repeat_prompt"], answers["looping"]) == (1, 1, 1)


def test_the_cost_is_the_planners(tiny_model, tmp_path, capsys):
    from thrifty.config.schema import MethodConfig
    from thrifty.plan.planner import PlanRequest, make_plan

    data = write_jsonl(tmp_path / "faq.jsonl", FAQ * 5)
    assert inspect(data, tiny_model, "--gpu", "a100-80gb", "--max-seq-len", "100", "--json") == 0
    figures = figures_of(capsys)
    cost = figures["cost"]
    assert cost["minutes_here"] == pytest.approx(cost["flops"] / (CPU_PEAK * cost["mfu"]) / 60)
    plan = make_plan(
        PlanRequest(
            model=str(tiny_model),
            method=MethodConfig(name="lora"),
            seq_len=figures["tokens"]["max"],  # the longest example: all under 100
            tokens=cost["planned_tokens"],
            precision="bf16",
            attention="sdpa",
        )
    )
    rows = [o for o in plan["options"] if o["gpu"] == "a100-80gb"]
    assert cost["gpu"]["usd"] == pytest.approx(min(o["usd"] for o in rows))
    assert cost["train_tokens"] <= cost["planned_tokens"] < cost["train_tokens"] * 1.2


def test_terminal_summary(tiny_model, tmp_path, capsys):
    assert inspect(write_jsonl(tmp_path / "faq.jsonl", FAQ * 5), tiny_model, "--gpu", "t4") == 0
    out = capsys.readouterr().out
    assert "truncated at 512" in out and "one epoch on t4" in out and "report:" in out


INSPECT_BAD = {name: BAD[name] for name in BAD if name in {"missing file", "bad extension", "malformed line"}}
INSPECT_BAD.update(
    {name: BAD[name] for name in ("binary file", "empty file", "unknown format", "near-dup above 1")}
)
INSPECT_BAD["unknown gpu"] = lambda t, g: [str(g), "--gpu", "gtx-9999"]
INSPECT_BAD["max-seq-len too small"] = lambda t, g: [str(g), "--max-seq-len", "4"]
INSPECT_BAD["max-seq-len under the template"] = lambda t, g: [str(g), "--max-seq-len", "8"]
INSPECT_BAD["val-fraction 1"] = lambda t, g: [str(g), "--val-fraction", "1"]
INSPECT_BAD["unknown method"] = lambda t, g: [str(g), "--method", "lorax"]
INSPECT_BAD["folder not thrifty's"] = lambda t, g: [
    str(g),
    "--output",
    str(Path(put(t, "mine.txt", "x")).parent),
]


@pytest.mark.parametrize("name", sorted(INSPECT_BAD))
def test_bad_input_is_exit_2_and_nothing_written(name, tiny_model, alpaca_file, tmp_path, capsys):
    argv = INSPECT_BAD[name](tmp_path, alpaca_file)
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "report")]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    capsys.readouterr()
    code = inspect(argv[0], tiny_model, *argv[1:])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and err.strip().startswith("error: "), err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
