"""Few-shot prompts (thrifty.eval.fewshot) and `thrifty eval RUN --few-shot K` on a tiny run."""

import json

import pytest

from tests.conftest import FAQ, build_tokenizer
from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main
from thrifty.config.schema import DataConfig
from thrifty.data.formats import to_canonical
from thrifty.data.tokenize import IGNORE_INDEX, encode_example
from thrifty.eval.fewshot.build import build_few_shot
from thrifty.eval.fewshot.pick import Pool, RandomPick

TOKENIZER = build_tokenizer()


def qa(question: str, answer: str) -> dict:
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}


FAQ_EXAMPLES = [to_canonical(r, "alpaca", "faq") for r in FAQ]
POOL = [qa(f"Question number {i} about topic {i}?", f"Answer {i}.") for i in range(30)]


def build(queries, pool, k=2, pick="retrieved", max_seq_len=512, seed=0):
    return build_few_shot(queries, pool, k, pick, TOKENIZER, DataConfig(max_seq_len=max_seq_len), seed)


def test_prompts_fit_max_seq_len_and_long_ones_are_shortened_and_counted():
    query, pool = FAQ_EXAMPLES[:1], FAQ_EXAMPLES[1:]
    full = build(query, pool, k=3)
    assert full.stats.shots == 3 and full.stats.shortened == 0 and full.stats.truncated == 0
    length = len(full.rows[0]["input_ids"])
    # One token short of the 3-shot prompt: shots are dropped until it fits, and that is counted.
    cut = build(query, pool, k=3, max_seq_len=length - 1)
    assert len(cut.rows[0]["input_ids"]) <= length - 1 and cut.stats.shots < 3
    assert cut.stats.shortened == 1 and cut.stats.truncated == 0
    # Shorter than the query alone: no shot, cut at the end as training cuts, counted as truncated.
    zero_len = len(encode_example(query[0], TOKENIZER, 512, False)[0]["input_ids"])
    tiny = build(query, pool, k=3, max_seq_len=zero_len - 2)
    assert tiny.stats.shots == 0 and tiny.stats.shortened == 1 and tiny.stats.truncated == 1
    assert len(tiny.rows[0]["input_ids"]) == zero_len - 2


def test_only_the_query_answer_is_scored_the_same_tokens_as_zero_shot():
    query = FAQ_EXAMPLES[0]
    shots = build([query], FAQ_EXAMPLES[1:], k=3)
    row = shots.rows[0]
    zero, _ = encode_example(query, TOKENIZER, 512, False)
    scored = [t for t in row["labels"] if t != IGNORE_INDEX]
    assert scored == [t for t in zero["labels"] if t != IGNORE_INDEX]  # same tokens as zero-shot eval
    assert len(row["input_ids"]) > len(zero["input_ids"]) + 20  # the shots are there, unscored
    for i in shots.shots[0]:  # every shot's answer is in the prompt
        assert FAQ_EXAMPLES[1:][i]["messages"][-1]["content"] in shots.prompts[0]
    assert shots.prompts[0].endswith("<|im_start|>assistant\n")
    assert shots.stats.prompt_tokens > shots.stats.zero_shot_prompt_tokens


def test_retrieved_picks_the_planted_most_similar_example():
    planted = qa("How long does a demolition permit for a barn take?", "Six weeks.")
    pool = POOL[:17] + [planted] + POOL[17:]
    query = qa("How long does a barn demolition permit take?", "About six weeks.")
    one = build([query], pool, k=1)
    assert one.shots == [[17]]
    three = build([query], pool, k=3)
    assert three.shots[0][-1] == 17  # the most similar sits last, next to the question


def test_a_held_out_example_is_never_its_own_shot():
    query = FAQ_EXAMPLES[0]
    same = qa("  how do I apply for a BUILDING permit? ", "Another answer.")  # the same question
    pool = [*POOL[:5], query, *POOL[5:10], same]
    for pick in ("retrieved", "random"):
        built = build([query], pool, k=len(pool), pick=pick, max_seq_len=4096)
        assert built.stats.shots == len(pool) - 2
        assert 5 not in built.shots[0] and len(pool) - 1 not in built.shots[0]
        assert query["messages"][-1]["content"] not in built.prompts[0]


def test_random_is_seeded_per_query():
    pool = Pool(POOL)
    first = [RandomPick(pool, seed=1).rank("q", i, 4) for i in range(5)]
    assert first == [RandomPick(pool, seed=1).rank("q", i, 4) for i in range(5)]  # same seed, same shots
    assert first != [RandomPick(pool, seed=2).rank("q", i, 4) for i in range(5)]
    assert len({tuple(s) for s in first}) > 1  # each query draws its own
    built = build(FAQ_EXAMPLES[:2], POOL, k=3, pick="random", seed=1)
    assert built.shots == build(FAQ_EXAMPLES[:2], POOL, k=3, pick="random", seed=1).shots


@pytest.fixture(scope="module")
def tiny_run(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fewshot-run")
    return train_tiny_run(
        tiny_model, write_faq(folder / "faq.jsonl"), folder / "run", "lora", "data.max_seq_len=256"
    )


def test_eval_few_shot_reports_the_base_with_shots(tiny_run, capsys):
    argv = ["eval", str(tiny_run), "--few-shot", "2", "--compare-base", "--max-new-tokens", "4"]
    assert main([*argv, "--no-progress", "--json", "--force"]) == 0
    report = json.loads(capsys.readouterr().out)
    fs, models = report["few_shot"], report["models"]
    assert fs["k"] == 2 and fs["pick"] == "retrieved" and fs["pool"] == 18 and fs["prompts"] == 2
    assert fs["shots_per_prompt"] == 2 and fs["shortened"] == 0 and fs["truncated"] == 0
    assert fs["prompt_tokens_per_query"] > fs["zero_shot_prompt_tokens_per_query"]
    shot = models["base_few_shot"]
    # The same answer tokens as the zero-shot columns, with a different context: a different loss.
    assert shot["tokens"] == models["base"]["tokens"] and shot["loss"] != models["base"]["loss"]
    assert set(shot["scores"]) == {"exact", "contains", "f1", "rougeL"} and shot["generated_tokens"] > 0
    assert report["delta_vs_few_shot"]["loss"] == pytest.approx(models["fine_tuned"]["loss"] - shot["loss"])
    md = (tiny_run / "eval.md").read_text()
    assert "| base | base 2-shot | fine-tuned | delta |" in md and "0 prompts lost shots" in md
    assert "- base 2-shot: " in md


@pytest.mark.parametrize("value", ["0", "-3"])
def test_few_shot_must_be_positive(tiny_run, capsys, value):
    assert main(["eval", str(tiny_run), "--few-shot", value, "--force", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --few-shot {value}: must be a positive whole number (shots per prompt)"]


def test_few_shot_on_plain_text_is_one_line(tiny_run, tmp_path, capsys):
    text = tmp_path / "text.jsonl"
    text.write_text("".join(json.dumps({"text": f"Plain sentence {i}."}) + "\n" for i in range(4)))
    argv = ["eval", str(tiny_run), "--data", str(text), "--few-shot", "2", "--force", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "few-shot needs prompts with answers" in err
