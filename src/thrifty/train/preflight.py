"""Checks of a run's inputs that need no heavy library, made before torch, transformers and peft load
(10-20 s on 2 cores): a missing model folder, an uncached hub id without a network, or a data file that
is missing, binary or in an unreadable encoding then fails in about a second, not after the imports."""

from thrifty.config.schema import RunConfig
from thrifty.data.readers import check_readable
from thrifty.models.registry import check_model_name


def preflight(config: RunConfig) -> None:
    check_model_name(config.model.name)
    for path in (config.data.path, config.data.eval_path):
        if path:
            check_readable(path)
