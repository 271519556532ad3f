"""`thrifty ui` in headless chromium: the pages over real tiny runs, a run started, watched live, stopped
(exit 75), resumed from the page and from the CLI; refusals (`..`, a public bind without a token, a
wrong token). Each page's screenshot is saved (see the `shots` fixture)."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import EVIL, Server, child_env
from thrifty.cli import main

TOKEN = "ui-test-token-0123456789abcdef"


def points(page, selector: str) -> int:
    """How many points an SVG polyline of the chart draws (0 when it is not there)."""
    return page.evaluate(
        "(s) => { const l = document.querySelector(s); return l ? l.getAttribute('points').split(' ').length : 0 }",
        selector,
    )


def test_runs_table_lists_every_run_with_status_sorts_and_filters(server, page, shots):
    page.goto(server.url + "/")
    rows = page.locator("#runs-table tbody tr")
    names = rows.locator("td:first-child").all_inner_texts()
    assert {
        "finished",
        "broken",
        "cmp/runs/lora",
        "sweep/trials/trial-0000",
        "sweep/trials/trial-0001",
    } <= set(names)
    status = dict(zip(names, rows.locator("td:nth-child(2)").all_inner_texts(), strict=True))
    assert status["finished"] == "finished" and status["broken"] == "failed"
    page.select_option("#gpu", "rtx4090")  # dollars on a chosen GPU: the page reloads with them
    page.wait_for_url("**gpu=rtx4090")
    dollars = page.locator("#runs-table tr[data-run=finished] td:last-child").inner_text()
    assert float(dollars) > 0
    page.fill("#filter", "broken")
    assert page.locator("#runs-table tbody tr:visible").count() == 1
    page.fill("#filter", "")
    page.click("#runs-table th:has-text('steps')")
    page.click("#runs-table th:has-text('steps')")  # descending: the 4-step run first
    assert page.locator("#runs-table tbody tr td:first-child").first.inner_text() == "finished"
    page.screenshot(path=shots / "ui-runs.png")


def test_run_page_draws_the_loss_curve_and_escapes_answers(server, page, shots):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server.url + "/run?path=finished")
    expect(page.locator("body")).to_have_attribute("data-status", "finished")  # the stream's status event
    assert points(page, "#chart-loss polyline[data-name=loss]") == 4  # steps 1-4, one line each
    assert points(page, "#chart-loss polyline[data-name='eval loss']") == 2  # before and after
    assert page.locator("#status").inner_text() == "finished"
    assert EVIL in page.locator(".example").first.inner_text()  # shown as text, never run
    assert "learning_rate: 0.01" in page.locator("#config").inner_text()
    page.wait_for_timeout(300)
    assert dialogs == []
    page.screenshot(path=shots / "ui-run.png", full_page=True)


def test_sweep_page_shows_trials_best_importance_and_plots(server, page, shots):
    page.goto(server.url + "/sweep?path=sweep")
    assert page.locator("#trials-table tbody tr").count() == 2
    assert page.locator("#best li").count() == 1 and "method.rank=" in page.locator("#best").inner_text()
    assert page.locator("#trials-table tr.best").count() == 1
    images = page.locator(".plots img")
    assert images.count() >= 2
    for i in range(images.count()):  # each PNG loaded through /file
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=shots / "ui-sweep.png", full_page=True)


def test_compare_page_shows_table_curves_and_frontier(server, page, shots):
    page.goto(server.url + "/compare?path=cmp")
    assert page.locator("#compare-table tbody tr").count() == 1
    assert "lora *" in page.locator("#compare-table").inner_text()  # on the frontier
    assert page.locator("#chart-frontier circle.dot").count() == 1
    assert page.locator("#chart-frontier text.label").text_content() == "lora"
    assert page.locator("#chart-curves circle").count() >= 1
    page.screenshot(path=shots / "ui-compare.png", full_page=True)


def test_dotdot_path_is_refused(server, page):
    for path in ("../", "finished/../../", "%2e%2e/etc"):
        response = page.goto(server.url + "/run?path=" + path)
        assert response.status == 400, path
        assert "outside the runs folder" in page.content()


# Waits through locators, not wait_for_function: the page's CSP (no eval) also binds the test's own
# polling scripts, and the point of the CSP is that it is on in the browser being tested.
def _wait_points(page, at_least: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while int(page.locator("#loss-points").inner_text()) < at_least:
        assert time.monotonic() < deadline, f"fewer than {at_least} loss points after {timeout_s} s"
        page.wait_for_timeout(200)


def _wait_status(page, text: str, timeout_s: float = 90) -> None:
    expect(page.locator("#status")).to_have_text(text, timeout=timeout_s * 1000)


def test_form_starts_a_run_live_curve_stop_exit_75_resume(server, page, runs_dir, tiny_model, faq, shots):
    page.goto(server.url + "/new")
    page.fill("#run-name", "live")
    fields = {"model.name": str(tiny_model), "data.path": str(faq), "data.max_seq_len": "64"}
    fields.update({"train.max_steps": "3000", "train.logging_steps": "1", "train.learning_rate": "0.001"})
    for name, value in fields.items():
        page.fill(f"input[name='{name}']", value)
    page.click("#start")
    page.wait_for_url("**/run?path=live")
    page.evaluate("window.notReloaded = true")
    _wait_status(page, "running")
    _wait_points(page, 3)  # lines appended to metrics.jsonl arrive over the stream
    seen = int(page.locator("#loss-points").inner_text())
    _wait_points(page, seen + 2)
    assert page.evaluate("window.notReloaded") is True  # the curve grew without a reload
    assert page.locator("#fact-model").inner_text() == str(tiny_model)  # config.yaml came after the page
    assert page.locator("#fact-max_steps").inner_text() == "3000"
    page.screenshot(path=shots / "ui-run-live.png")
    page.click("#stop")
    _wait_status(page, "preempted · resumable")
    assert "exit 75" in page.locator("#status-detail").inner_text()
    run = runs_dir / "live"
    records = json.loads((runs_dir / ".thrifty-ui" / "processes.json").read_text())
    assert records[str(run.resolve())]["exit_code"] == 75
    first_stop = max(int(p.name.removeprefix("step-")) for p in (run / "checkpoints").glob("step-*"))

    page.click("#resume")  # the page's resume: `thrifty train RUN/config.yaml --resume auto`
    _wait_status(page, "running")
    page.evaluate("window.notReloaded = true")
    _wait_points(page, first_stop + 2)
    page.click("#stop")
    _wait_status(page, "preempted · resumable")
    step = max(int(p.name.removeprefix("step-")) for p in (run / "checkpoints").glob("step-*"))
    assert step > first_stop

    # And the CLI resumes what the page stopped (extending max_steps is a resume-safe change).
    args = [
        "train",
        str(run / "config.yaml"),
        "--resume",
        "auto",
        "--no-progress",
        f"train.max_steps={step + 2}",
    ]
    assert main(args) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from_step"] == step and summary["steps"] == step + 2 and summary["resumes"] == 2
    page.reload()
    assert page.locator("#status").inner_text() == "finished"
    manifests = page.locator("#checkpoints td.manifest").all_inner_texts()
    assert manifests and set(manifests) == {"complete"}  # the checkpoints the stops wrote, verified by size


def test_a_public_bind_without_a_token_refuses_to_start(runs_dir):
    command = [
        sys.executable,
        "-m",
        "thrifty",
        "ui",
        "--runs",
        str(runs_dir),
        "--host",
        "0.0.0.0",
        "--port",
        "1",
    ]
    done = subprocess.run(command, env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--token-file" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def token_server(runs_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    ui = Server(runs_dir, "--token-file", str(path))
    yield ui
    ui.close()


def test_wrong_token_gets_401_and_the_right_one_reaches_pages_and_stream(token_server, page):
    url = token_server.url
    assert page.goto(url + "/").status == 401
    assert page.goto(url + "/?token=wrong-token-0123456789").status == 401
    for route in ("/stream?path=finished", "/run?path=finished"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + route, timeout=10)
        assert refused.value.code == 401
    assert page.goto(url + f"/run?path=finished&token={TOKEN}").status == 200
    assert "token=" not in page.url  # the cookie carries it from here on
    expect(page.locator("body")).to_have_attribute("data-status", "finished")  # the stream got through
    request = urllib.request.Request(url + "/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert urllib.request.urlopen(request, timeout=10).status == 200
