"""Run configuration: schema, loading with overrides, and generated docs."""

from thrifty.config.load import load_config, write_resolved
from thrifty.config.schema import RunConfig

__all__ = ["RunConfig", "load_config", "write_resolved"]
