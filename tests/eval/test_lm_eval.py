"""lm-evaluation-harness on a run's model with a local task: a YAML task file over a local JSONL."""

import json

from tests.conftest import FAQ
from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main

TASK = """task: thrifty_faq_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: loglikelihood
doc_to_text: "Question: {{{{instruction}}}}\\nAnswer:"
doc_to_target: " {{{{output}}}}"
metric_list:
  - metric: perplexity
  - metric: acc
"""


def test_lm_eval_local_task_scores_tuned_and_base(tiny_model, tmp_path, capsys):
    run = train_tiny_run(tiny_model, write_faq(tmp_path / "faq.jsonl"), tmp_path / "run")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(r) + "\n" for r in FAQ))
    (tasks / "faq.yaml").write_text(TASK.format(data=docs))
    capsys.readouterr()
    argv = ["eval", str(run), "--max-examples", "2", "--max-new-tokens", "2", "--no-progress", "--json"]
    argv += ["--lm-eval", "thrifty_faq_ll", "--lm-eval-include", str(tasks), "--compare-base"]
    assert main(argv) == 0
    harness = json.loads(capsys.readouterr().out)["lm_eval"]
    tuned, base = harness["fine_tuned"]["thrifty_faq_ll"], harness["base"]["thrifty_faq_ll"]
    assert set(tuned) == {"perplexity", "acc"} and 0 <= tuned["acc"] <= 1
    # The harness loaded the adapter: the fine-tuned model scores the FAQ answers differently from the base.
    assert tuned["perplexity"] > 1 and abs(tuned["perplexity"] - base["perplexity"]) > 1e-3
    assert "lm-evaluation-harness" in (run / "eval.md").read_text()
