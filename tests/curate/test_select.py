"""thrifty data select: k distinct rows, the planted hard rows preferred, the labelling round-trip, and
one-line refusals that leave the pool untouched."""

import json
import random
import string
from pathlib import Path

import pytest

from thrifty.cli import main
from thrifty.curate.rows import read_table
from thrifty.curate.select.strategies import Scores, get_strategy
from thrifty.curate.select.strategies.diversity import k_center
from thrifty.errors import EXIT_USER_ERROR

FAQ = "pkg:zaragoza_construction_faq/data/faq-en-alpaca.jsonl"


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def select(*argv: str) -> int:
    return main(["data", "select", *argv, "--no-progress"])


@pytest.mark.parametrize("strategy", ["random", "loss", "diversity", "loss+diversity"])
def test_k_distinct_rows_in_the_input_format(tiny_model, alpaca_file, tmp_path, strategy):
    out = tmp_path / "picked.jsonl"
    assert (
        select(
            str(alpaca_file), "--model", str(tiny_model), "--k", "7", "--strategy", strategy, "-o", str(out)
        )
        == 0
    )
    picked = [json.loads(line) for line in out.read_text().splitlines()]
    scores = json.loads((tmp_path / "picked.select.json").read_text())
    assert len(picked) == 7 and len(set(scores["selected_rows"])) == 7
    pool = [json.loads(line) for line in alpaca_file.read_text().splitlines()]
    assert picked == [pool[i] for i in scores["selected_rows"]]  # the rows as they were, columns and all
    assert set(picked[0]) == {"instruction", "input", "output"}


def test_fraction_rounds_and_the_second_run_reads_the_cache(tiny_model, alpaca_file, tmp_path, thrifty_home):
    args = [str(alpaca_file), "--model", str(tiny_model), "--fraction", "0.25", "--strategy", "loss"]
    assert select(*args, "-o", str(tmp_path / "a.jsonl")) == 0
    cache = sorted((thrifty_home / "scores").glob("forward-*.json"))
    assert cache, "scores are cached"
    stamp = [c.stat().st_mtime_ns for c in cache]
    assert select(*args, "-o", str(tmp_path / "b.jsonl")) == 0
    assert [c.stat().st_mtime_ns for c in cache] == stamp  # nothing rescored, nothing rewritten
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 5  # 25% of 20
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_loss_prefers_the_planted_hard_rows(tmp_path):
    """The real SmolLM2: FAQ answers vs planted answers of random letters, which no model predicts."""
    real = read_table(FAQ).records[:12]
    noise = random.Random(0)
    planted = [
        {**r, "output": "".join(noise.choice(string.ascii_lowercase + " ") for _ in range(120))}
        for r in read_table(FAQ).records[100:104]
    ]
    rows = real[:6] + planted[:2] + real[6:] + planted[2:]
    pool = write_rows(tmp_path / "pool.jsonl", rows)
    out = tmp_path / "hard.jsonl"
    assert select(str(pool), "--model", "smollm2-135m", "--k", "4", "--strategy", "loss", "-o", str(out)) == 0
    picked = json.loads((tmp_path / "hard.select.json").read_text())
    assert picked["selected_rows"] == [6, 7, 14, 15]
    assert picked["mean_score_selected"] > picked["mean_score_pool"]


def test_unlabelled_pool_round_trips_through_labelling_into_train(tiny_model, tmp_path):
    questions = [{"instruction": f"Question number {i} about permits?"} for i in range(12)]
    pool = write_rows(tmp_path / "pool.jsonl", questions)
    to_label = tmp_path / "to_label.jsonl"
    args = [str(pool), "--model", str(tiny_model), "--k", "6", "--strategy", "uncertainty"]
    assert select(*args, "--max-new-tokens", "4", "-o", str(to_label)) == 0
    picked = [json.loads(line) for line in to_label.read_text().splitlines()]
    assert len(picked) == 6 and all(row["output"] == "" for row in picked)  # a slot to fill in
    scores = json.loads((tmp_path / "to_label.select.json").read_text())
    assert all(scores["entropy"][i] is not None for i in range(12))
    labelled = write_rows(
        tmp_path / "labelled.jsonl", [{**r, "output": "Ask the municipality."} for r in picked]
    )
    out = tmp_path / "run"
    argv = ["train", "--model", str(tiny_model), "--data", str(labelled), "--output", str(out)]
    assert main([*argv, "--max-steps", "1", "--no-progress", "data.max_seq_len=64"]) == 0
    assert json.loads((out / "summary.json").read_text())["steps"] == 1


def test_loss_on_an_unlabelled_pool_says_to_use_uncertainty(tiny_model, tmp_path, capsys):
    pool = write_rows(tmp_path / "pool.jsonl", [{"instruction": "a?"}, {"instruction": "b?"}])
    code = select(
        str(pool),
        "--model",
        str(tiny_model),
        "--k",
        "1",
        "--strategy",
        "loss",
        "-o",
        str(tmp_path / "o.jsonl"),
    )
    assert code == EXIT_USER_ERROR
    assert "uncertainty" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--k", "21"], "more than the pool's 20 rows"),
        (["--k", "0"], "positive whole number"),
        (["--fraction", "0"], "above 0 and at most 1"),
        (["--fraction", "1.5"], "above 0 and at most 1"),
        (["--k", "3", "--output-is-input"], "the output is the input"),
    ],
)
def test_bad_sizes_and_paths_are_one_line_and_leave_the_pool(
    tiny_model, alpaca_file, tmp_path, capsys, flags, says
):
    before = alpaca_file.read_bytes()
    out = alpaca_file if "--output-is-input" in flags else tmp_path / "o.jsonl"
    flags = [f for f in flags if f != "--output-is-input"]
    assert select(str(alpaca_file), "--model", str(tiny_model), *flags, "-o", str(out)) == EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert alpaca_file.read_bytes() == before
    assert out == alpaca_file or not out.exists()


def test_k_center_covers_clusters_before_repeating_one():
    """Three tight clusters: the first three picks take one point from each."""
    import numpy as np

    rng = np.random.default_rng(0)
    centers = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    points = np.concatenate([c + 0.01 * rng.standard_normal((10, 3)) for c in centers])
    picks = k_center(points, 3)
    assert sorted(p // 10 for p in picks) == [0, 1, 2]


def test_loss_diversity_takes_the_hard_row_of_each_cluster():

    points = [[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3
    loss = [0.1, 0.9, 0.2, 0.3, 0.1, 0.8]
    picks = get_strategy("loss+diversity").pick(Scores(6, loss=loss, hidden=points), 2, 0)
    assert sorted(picks) == [1, 5]


def test_a_run_folder_scores_with_its_tuned_model(tiny_model, alpaca_file, tmp_path):
    """--model RUN: the run's fine-tuned model scores (its losses differ from the base's on its own data)."""
    from tests.tiny_runs import train_tiny_run

    run = train_tiny_run(tiny_model, alpaca_file, tmp_path / "run")
    losses = {}
    for name, model in (("base", tiny_model), ("run", run)):
        out = tmp_path / f"{name}.jsonl"
        assert (
            select(str(alpaca_file), "--model", str(model), "--k", "3", "--strategy", "loss", "-o", str(out))
            == 0
        )
        losses[name] = json.loads((tmp_path / f"{name}.select.json").read_text())["mean_score_pool"]
    assert losses["run"] < losses["base"]  # it trained on these rows
