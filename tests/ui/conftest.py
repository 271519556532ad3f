"""ui fixtures: a runs folder with real tiny runs (finished, a sweep, a comparison, a failed one), a
`thrifty ui` server in a subprocess on a free loopback port, and headless Debian chromium via Playwright."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.tiny_runs import train_tiny_run, write_faq
from thrifty.cli import main

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'  # user text that must stay text


@pytest.fixture(scope="session")
def faq(tmp_path_factory) -> Path:
    return write_faq(tmp_path_factory.mktemp("ui-data") / "faq.jsonl")


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory, tiny_model, faq) -> Path:
    """runs/finished (with an eval.json whose answers hold markup), runs/sweep (2 trials), runs/cmp
    (one strategy) and runs/broken (config and metrics, no summary, no checkpoint: failed)."""
    root = tmp_path_factory.mktemp("ui-runs")
    finished = train_tiny_run(tiny_model, faq, root / "finished", "lora", "train.logging_steps=1")
    sample = {"prompt": EVIL, "reference": "ref", "fine_tuned": EVIL, "base": ""}
    evaluation = {"examples": 1, "data": "faq", "metrics": ["f1"], "samples": [sample]}
    evaluation["models"] = {"fine_tuned": {"loss": 5.6, "perplexity": 270.0, "scores": {"f1": 0.5}}}
    (finished / "eval.json").write_text(json.dumps(evaluation))
    _sweep(root, tiny_model, faq)
    common = ["--no-progress", "data.max_seq_len=64", "--budget-steps", "2", "--gpu", "rtx4090"]
    args = ["compare", "--model", str(tiny_model), "--data", str(faq), "--output", str(root / "cmp")]
    assert main([*args, "--strategies", "lora", *common]) == 0
    broken = root / "broken"
    broken.mkdir()
    shutil.copy(finished / "config.yaml", broken / "config.yaml")
    (broken / "metrics.jsonl").write_text('{"step": 0, "eval_loss": 5.7}\n')
    return root


def _sweep(root: Path, tiny_model: Path, faq: Path) -> None:
    config = {
        "model": {"name": str(tiny_model)},
        "data": {"path": str(faq), "max_seq_len": 64},
        "train": {"max_steps": 2, "logging_steps": 1},
        "checkpoint": {"every_minutes": None},
        "sweep": {"domain": "faq", "sampler": "grid", "space": {"method.rank": {"choices": [2, 4]}}},
    }
    path = root.parent / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["sweep", str(path), "--output", str(root / "sweep"), "--no-progress"]) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env() -> dict[str, str]:
    """This interpreter's import path and the suite's offline settings, for `thrifty` subprocesses."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


class Server:
    def __init__(self, runs: Path, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "thrifty",
            "ui",
            "--runs",
            str(runs),
            "--port",
            str(self.port),
            *extra,
        ]
        self.proc = subprocess.Popen(
            command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 60  # the first import of starlette, uvicorn and pydantic takes seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"thrifty ui exited {self.proc.returncode}: {self.proc.stdout.read()}")
            try:
                urllib.request.urlopen(self.url + "/favicon.ico", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answered (401 with a token): it is up
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("thrifty ui did not answer within 60 s")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def server(runs_dir):
    ui = Server(runs_dir)
    yield ui
    ui.close()


def chromium_path() -> str:
    """Debian's chromium (apt-get install chromium; .ci/run does), never a browser Playwright downloads."""
    path = os.environ.get("THRIFTY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found: apt-get install -y chromium (or set THRIFTY_CHROMIUM)")
    return path


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: chromium's sandbox refuses to start as root (CI containers run as root).
        chromium = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors  # a script error on any page fails the test that opened it


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: a temporary folder, or $THRIFTY_UI_SCREENSHOTS (bench/ui_screenshots.py
    points it at docs/)."""
    folder = os.environ.get("THRIFTY_UI_SCREENSHOTS")
    return Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
