"""Sweep fixtures: a sweep file on the tiny model, and a real PostgreSQL server on loopback."""

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAQ


@pytest.fixture
def sweep_file(tmp_path, tiny_model):
    """Write a sweep YAML on the tiny model and 40 FAQ records; returns a function(sweep, train,
    checkpoint) taking the sections' extra fields."""
    data = tmp_path / "faq.jsonl"
    data.write_text("".join(__import__("json").dumps(r) + "\n" for r in FAQ * 10))

    def write(
        sweep: dict, train: dict | None = None, name: str = "sweep.yaml", checkpoint: dict | None = None
    ) -> Path:
        config = {
            "model": {"name": str(tiny_model)},
            "data": {"path": str(data), "max_seq_len": 64},
            "train": {"max_steps": 6, "logging_steps": 1, **(train or {})},
            "checkpoint": {"every_minutes": None, **(checkpoint or {})},
            "sweep": {"domain": "faq", **sweep},
        }
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        return path

    return write


def _pg_bin(tool: str) -> str:
    """Debian's PostgreSQL keeps initdb/pg_ctl under /usr/lib/postgresql/N/bin, off the PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}")) or [shutil.which(tool)]
    if not found[-1]:
        raise RuntimeError(
            f"{tool} not found: install PostgreSQL (apt-get install -y postgresql); .ci/run does"
        )
    return found[-1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user() -> list[str]:
    """initdb and postgres refuse to run as root: drop to the `postgres` (or `nobody`) account."""
    if os.geteuid() != 0:
        return []
    import pwd

    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"]
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on 127.0.0.1 (trust auth), stopped and deleted afterwards."""
    import tempfile

    # Under /tmp, not pytest's 0700 base folder, so the unprivileged server user can reach it.
    root = Path(tempfile.mkdtemp(prefix="thrifty-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    user = _as_user()
    if user:
        shutil.chown(root, user[2])
        shutil.chown(sock, user[2])
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True}
    subprocess.run(
        [*user, _pg_bin("initdb"), "-D", str(data), "-U", "thrifty", "--auth=trust", "-E", "UTF8"], **run
    )
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*user, _pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"],
        **run,
    )
    try:
        yield f"postgresql://thrifty@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*user, _pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
