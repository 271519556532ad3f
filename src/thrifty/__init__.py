"""thrifty: fine-tune open language models for as little money as possible.

The Python API (thrifty/api.py) is the CLI's verbs as functions: thrifty.plan, thrifty.train,
thrifty.eval, thrifty.export, thrifty.compare, thrifty.sweep and thrifty.prune, raising thrifty.UserError on bad input
and thrifty.Preempted after a stop. `import thrifty` loads none of the heavy libraries (nor the API
module, until a function or result type is used): each function loads what it needs.
"""

import types

from thrifty import (
    compare,
    eval,
    export,
    plan,
    prune,
    sweep,
    train,
)  # the capability packages (docstrings only)
from thrifty.errors import Preempted, UserError
from thrifty.version import __version__

# Names served from thrifty.api on first use.
API_NAMES = ("Comparison", "Evaluation", "Export", "Plan", "SweepResult", "load_run_config")


class CallablePackage(types.ModuleType):
    """A capability package that shares its verb's name is also that verb's API function:
    `thrifty.plan(...)` calls `thrifty.api.plan`, while `thrifty.plan.planner` and `from thrifty.plan
    import report` reach the package as before. (A plain function attribute would not do: importing
    the submodule thrifty.plan.cli sets the package attribute `thrifty.plan` back to the module.)"""

    def __call__(self, *args, **kwargs):  # the typed signatures are thrifty.api's
        return self._api_function()(*args, **kwargs)

    @property
    def __signature__(self):  # inspect.signature(thrifty.plan) and help tools show the function's
        import inspect

        return inspect.signature(self._api_function())

    def _api_function(self):
        from thrifty import api

        return getattr(api, self.__name__.rpartition(".")[2])


for _package in (compare, eval, export, plan, prune, sweep, train):
    _package.__class__ = CallablePackage
del _package


def __getattr__(name: str):
    if name in API_NAMES:
        from thrifty import api

        return getattr(api, name)
    raise AttributeError(f"module 'thrifty' has no attribute {name!r}")


__all__ = [
    "Preempted",
    "UserError",
    "__version__",
    "compare",
    "eval",
    "export",
    "plan",
    "prune",
    "sweep",
    "train",
    *API_NAMES,
]
