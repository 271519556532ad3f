"""Does the model hub answer? One short TCP connect per process, so a machine without network fails in
about a second instead of after the hub client's retries (5 per file, about 25 s each)."""

import os
import socket
import sys
import threading
import urllib.request
from functools import cache
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 1.5  # a reachable hub or proxy accepts a TCP connect in well under 0.5 s
DEFAULT_ENDPOINT = "https://huggingface.co"


def endpoint() -> str:
    """The hub's base URL, as huggingface_hub reads it."""
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def connect_target(url: str | None = None) -> tuple[str, int, bool]:
    """(host, port, via_proxy) that the hub client would open for `url`: the proxy's when one applies
    (HTTPS_PROXY/HTTP_PROXY/ALL_PROXY, minus NO_PROXY), else the endpoint's own."""
    parts = urlsplit(url or endpoint())
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    via_proxy = bool(proxy) and not urllib.request.proxy_bypass_environment(parts.hostname or "", proxies)
    if via_proxy:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), via_proxy


@cache
def answers(host: str, port: int, timeout_s: float) -> bool:
    """Whether a TCP connect to host:port succeeds within timeout_s seconds, name lookup included."""
    done: list[bool] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                done.append(True)
        except OSError:  # refused, unreachable, unknown name, timed out
            pass

    # A thread bounds the whole attempt: create_connection's timeout does not cover a hanging DNS lookup.
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(done)


def hub_answers() -> bool:
    """Whether the hub (or the proxy in front of it) answers; asked once per process."""
    host, port, _ = connect_target()
    return answers(host, port, CONNECT_TIMEOUT_S)


def describe_target() -> str:
    """'huggingface.co', or 'huggingface.co via proxy host:port', for messages."""
    hub = urlsplit(endpoint()).netloc
    host, port, via_proxy = connect_target()
    return f"{hub} via proxy {host}:{port}" if via_proxy else hub


def go_offline() -> None:
    """Serve this process from the local cache only, as HF_HUB_OFFLINE=1 would, even if the hub client
    was imported already (it reads the variable once, at import)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
