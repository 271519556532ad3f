"""Where thrifty keeps its caches on disk."""

import os
from pathlib import Path


def thrifty_home() -> Path:
    """Root of thrifty's cache: `$THRIFTY_HOME`, default `~/.cache/thrifty`."""
    return Path(os.environ.get("THRIFTY_HOME", Path.home() / ".cache" / "thrifty")).expanduser()


def models_dir() -> Path:
    return thrifty_home() / "models"


def tokenized_cache_dir() -> Path:
    return thrifty_home() / "tokenized"
