"""What the pages show from a run folder's files (TestClient, no browser): plan beside measurement,
checkpoints with their manifests' state, the export folder and its `ollama create` line, dollars."""

import html

from starlette.testclient import TestClient

from tests.ui.fakes import add_checkpoint, fake_run
from thrifty.compare.dollars import run_dollars
from thrifty.ui.app import build_app


def _client(root) -> TestClient:
    return TestClient(build_app(root, None), base_url="http://127.0.0.1:7860")


def test_run_page_shows_plan_checkpoints_and_export(tmp_path):
    run = fake_run(tmp_path, "done", checkpoint=4)
    add_checkpoint(run, 2, complete=False)
    gguf = run / "export" / "gguf"
    gguf.mkdir(parents=True)
    (gguf / "done-q8_0.gguf").write_bytes(b"GGUF" * 10)
    (gguf / "Modelfile").write_text("FROM ./done-q8_0.gguf\n")
    line = f"ollama create done -f {gguf / 'Modelfile'}"
    (gguf / "README.md").write_text(f"# done (GGUF)\n\n```\n{line}\n```\n")
    page = html.unescape(_client(tmp_path).get("/run", params={"path": "done"}).text)
    assert '<code id="ollama">' + line + "</code>" in page
    assert "gguf/done-q8_0.gguf" in page and "40 bytes" in page
    assert "step-000004</td><td" in page and ">complete<" in page
    assert "incomplete: no manifest.json (the write did not finish)" in page
    # Plan beside measurement: 0.5 GiB predicted, 1 GiB measured; 1 s predicted, 2 s measured.
    assert '<td>peak memory GiB</td><td class="n">0.5</td><td class="n">1</td>' in page
    assert '<td>seconds</td><td class="n">1</td><td class="n">2</td>' in page


def test_runs_table_prices_finished_runs_on_the_chosen_gpu(tmp_path):
    fake_run(tmp_path, "done")
    fake_run(tmp_path, "stopped", finished=False, checkpoint=2)
    c = _client(tmp_path)
    summary = {"predicted_flops": 1e12, "train_tokens": 1000, "predicted_tokens": 1000}
    usd = run_dollars(summary, "lora", "rtx4090")["usd"]
    page = c.get("/", params={"gpu": "rtx4090"}).text
    assert f'data-v="{usd}"' in page and "$ on rtx4090" in page
    assert "preempted · resumable" in page and 'title="resumable from step 2"' in page
    plain = c.get("/", params={"gpu": "no-such-gpu"}).text  # not in the catalog: no column price
    assert f'data-v="{usd}"' not in plain and "$ on" in plain
