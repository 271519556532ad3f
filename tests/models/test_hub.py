"""No network: an uncached hub id fails in one line within seconds; cached ids and a reachable hub proceed.

Nothing here touches the real network: HF_ENDPOINT points at loopback ports opened or closed by the test."""

import importlib
import os
import socket
import threading
import time

import huggingface_hub.constants
import pytest

from thrifty.cli import main
from thrifty.errors import UserError
from thrifty.models import hub
from thrifty.models.registry import check_hub_id, resolve_model

PROXY_VARS = ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"]
QUICK_S = 5.0  # sanity bound for "fails fast"; the hub client's retries take ~25 s per file


@pytest.fixture(autouse=True)
def online_empty_cache(tmp_path, monkeypatch):
    """Not offline, no proxy, an empty hub cache, and no remembered answer from an earlier test."""
    for name in ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", *PROXY_VARS, *(v.lower() for v in PROXY_VARS)]:
        monkeypatch.delenv(name, raising=False)
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    # huggingface_hub reads these once at import; patching them also restores them after the test.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    hub.answers.cache_clear()
    yield cache
    hub.answers.cache_clear()


@pytest.fixture
def closed_endpoint(monkeypatch) -> int:
    """HF_ENDPOINT at a loopback port nobody listens on: connects are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    return port


@pytest.fixture
def open_endpoint(monkeypatch):
    """HF_ENDPOINT at a listening loopback socket: the kernel completes the TCP connect."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(1.0)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    yield server
    server.close()


def _cache_hub_model(cache, repo_id: str) -> None:
    """The layout huggingface_hub writes: refs/main names a snapshot that holds config.json."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0" * 40)


def _import_libraries() -> None:
    """Import what the verbs import before timing them: torch, transformers and peft alone take 5-20 s
    on a busy 2-core machine, and that is not what the bound is about."""
    for module in [
        "thrifty.plan.planner",
        "thrifty.train.run",
        "thrifty.train.resume",
        "thrifty.inference.generate",
    ]:
        importlib.import_module(module)
    from transformers import AutoConfig, AutoTokenizer  # noqa: F401  (transformers loads these lazily)


def test_uncached_id_without_network_says_what_to_do_quickly(closed_endpoint):
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        resolve_model("someorg/notcached")
    message = str(info.value)
    assert time.monotonic() - start < QUICK_S
    assert f"the hub (127.0.0.1:{closed_endpoint}) does not answer within 1.5 s" in message
    assert "hf download someorg/notcached" in message and "thrifty models pull smollm2-135m" in message
    assert "\n" not in message


def test_reachable_hub_returns_the_name_after_one_connect(open_endpoint):
    assert check_hub_id("someorg/notcached") == "someorg/notcached"
    conn, _ = open_endpoint.accept()  # the check's connect is queued: it really asked the endpoint
    conn.close()
    assert "HF_HUB_OFFLINE" not in os.environ


def test_answer_is_remembered_per_process(open_endpoint):
    check_hub_id("someorg/one")
    check_hub_id("someorg/two")
    open_endpoint.accept()[0].close()
    with pytest.raises(TimeoutError):
        open_endpoint.accept()  # no second connect


def test_cached_id_without_network_switches_to_offline(online_empty_cache, closed_endpoint):
    _cache_hub_model(online_empty_cache, "someorg/cached")
    assert resolve_model("someorg/cached") == "someorg/cached"
    # transformers then loads from the cache instead of retrying the hub
    assert os.environ["HF_HUB_OFFLINE"] == "1" and huggingface_hub.constants.HF_HUB_OFFLINE is True


def test_a_hanging_connect_gives_up_after_the_timeout(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):  # a DNS lookup or SYN that never comes back
        release.wait(30)
        raise TimeoutError

    monkeypatch.setattr(hub.socket, "create_connection", hang)
    monkeypatch.setattr(hub, "CONNECT_TIMEOUT_S", 0.2)
    start = time.monotonic()
    try:
        assert hub.hub_answers() is False
        assert time.monotonic() - start < 1.0
    finally:
        release.set()


def test_proxy_is_what_gets_checked(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert hub.connect_target() == ("proxy.example", 3128, True)
    assert hub.describe_target() == "huggingface.co via proxy proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", "huggingface.co")
    assert hub.connect_target() == ("huggingface.co", 443, False)


def test_http_endpoint_uses_http_proxy_without_scheme(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.example")
    monkeypatch.setenv("HTTP_PROXY", "proxy.example:8080")
    assert hub.connect_target() == ("proxy.example", 8080, True)


def test_invalid_hub_id_is_a_user_error():
    with pytest.raises(UserError, match="is not a bundled name"):
        resolve_model("some model")


@pytest.mark.parametrize(
    "argv",
    [
        ["plan", "--model", "someorg/notcached", "--method", "lora"],
        ["train", "--model", "someorg/notcached", "--data", "DATA"],
        ["generate", "--model", "someorg/notcached", "hi"],
    ],
)
def test_cli_without_network_is_one_line_exit_2(argv, closed_endpoint, alpaca_file, capsys):
    argv = [str(alpaca_file) if a == "DATA" else a for a in argv]
    _import_libraries()
    start = time.monotonic()
    assert main(argv) == 2
    assert time.monotonic() - start < QUICK_S
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model 'someorg/notcached' is not cached and the hub") and "\n" not in err


def test_plan_typo_without_network_still_names_the_closest(closed_endpoint, capsys):
    _import_libraries()
    start = time.monotonic()
    assert main(["plan", "--model", "lama-2-7b"]) == 2
    assert time.monotonic() - start < QUICK_S
    assert "closest: llama-2-7b" in capsys.readouterr().err


def test_pull_of_a_hub_id_says_it_needs_no_pull(capsys):
    assert main(["models", "pull", "someorg/notcached"]) == 2
    assert "hf download someorg/notcached" in capsys.readouterr().err
