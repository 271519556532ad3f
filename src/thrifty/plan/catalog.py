"""The planner's data files: model architectures, GPUs, prices. Each row carries its source and date."""

import difflib
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from thrifty.errors import UserError
from thrifty.io import read_yaml

CATALOG = Path(__file__).parent / "catalog"


@cache
def _load(name: str) -> Any:
    return yaml.safe_load((CATALOG / name).read_text(encoding="utf-8"))


def models() -> dict[str, dict[str, Any]]:
    return _load("models.yaml")


def gpus() -> dict[str, dict[str, Any]]:
    return _load("gpus.yaml")


def prices(extra: str | None = None) -> dict[str, Any]:
    """Bundled prices, extended/overridden by `extra` or $THRIFTY_PRICES (same YAML shape)."""
    data = dict(_load("prices.yaml"))
    extra = extra or os.environ.get("THRIFTY_PRICES")
    if extra:
        path = Path(extra)
        user = read_yaml(path, "price file") or {}
        if not isinstance(user, dict) or not isinstance(user.get("prices", []), list):
            raise UserError(f"{path}: a price file is a mapping with a `prices:` list (as the bundled one)")
        rows = {(r["provider"], r["gpu"], r.get("count", 1), r["pricing"]): r for r in data.get("prices", [])}
        for row in user.get("prices", []):
            rows[(row["provider"], row["gpu"], row.get("count", 1), row["pricing"])] = row
        data["prices"] = list(rows.values())
    return data


def _index(table: dict[str, dict[str, Any]]) -> dict[str, str]:
    names = {}
    for key, row in table.items():
        for name in [key, row.get("hf_id"), *(row.get("aliases") or [])]:
            if name:
                names[_norm(name)] = key
    return names


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(" ", "-")


def _find(table: dict[str, dict[str, Any]], name: str, kind: str, required: bool) -> dict[str, Any] | None:
    index = _index(table)
    key = index.get(_norm(name)) or index.get(_norm(name.split("/")[-1]))
    if key:
        return {"key": key, **table[key]}
    if not required:
        return None
    close = difflib.get_close_matches(_norm(name.split("/")[-1]), list(index), n=4, cutoff=0.4)
    hint = f"; closest: {', '.join(dict.fromkeys(index[c] for c in close))}" if close else ""
    raise UserError(f"unknown {kind} {name!r}{hint}")


def find_model(name: str, required: bool = True) -> dict[str, Any] | None:
    return _find(models(), name, "model", required)


def check_model(name: str) -> dict[str, Any] | None:
    """The catalog entry for `name`, or None once it checks out as a bundled name, a folder or a hub id
    that can load (no torch needed: the planner calls it first). A name without a '/' that is none of
    these is most likely a mistyped catalog name: the error lists the closest ones."""
    from thrifty.models.registry import check_model_name

    entry = find_model(name, required=False)
    if entry is not None:
        return entry
    try:
        check_model_name(name)
    except UserError:
        if "/" not in name:
            find_model(name, required=True)
        raise
    return None


def find_gpu(name: str) -> dict[str, Any]:
    return _find(gpus(), name, "GPU", True)
