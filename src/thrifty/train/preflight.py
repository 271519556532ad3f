"""Checks of a run's inputs that need no heavy library, made before torch, transformers and peft load
(10-20 s on 2 cores): a missing model folder, an uncached hub id without a network, a data file that is
missing, binary or in an unreadable encoding, or a tracker package that is not installed then fails in
about a second, not after the imports."""

from thrifty.config.schema import RunConfig
from thrifty.data.readers import check_readable
from thrifty.models.registry import check_model_name
from thrifty.train.trackers import check_trackers


def preflight(config: RunConfig) -> None:
    check_model_name(config.model.name)
    check_trackers(config.train.report_to)  # a missing tracker package, before 10-20 s of imports
    for path in (config.data.path, config.data.eval_path):
        if path:
            check_readable(path)
