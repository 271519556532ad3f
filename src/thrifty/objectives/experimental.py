"""TRL 1.16 keeps ORPO and CPO (SimPO) under trl.experimental, which warns on import that its API may
change. thrifty pins what it passes, so the warning is silenced for thrifty's own import only."""

import importlib
import os
import warnings
from typing import Any


def quiet_import(module: str, name: str) -> Any:
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # TRL's own switch for the import warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return getattr(importlib.import_module(module), name)
