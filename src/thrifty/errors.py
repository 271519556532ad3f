"""The one exception type the CLI turns into a one-line message and exit code 2, and what it says about
everything else (a bug: the traceback stays, with where to report it)."""

import sys


class UserError(Exception):
    """Bad input the user can fix: a file, a line, a field. The message says what to do."""


EXIT_USER_ERROR = 2

# EX_TEMPFAIL from sysexits.h: "temporary failure, try again". `thrifty train` exits with it after a
# SIGTERM/SIGINT or a preemption notice, once a checkpoint is safely written: rerun with --resume auto.
EXIT_PREEMPTED = 75


class Preempted(Exception):
    """Training stopped on a signal or a preemption notice after writing a checkpoint."""


# An exception that is not a UserError is a bug in thrifty (or a library), never the user's input: exit 1.
EXIT_INTERNAL_ERROR = 1
REPORT_TO = "thrifty's issue tracker"


def report_internal_error(exc: BaseException) -> None:
    """The full traceback (bugs stay visible), then one line on what to send and where."""
    import traceback  # here, not on `import thrifty`: it costs ~10 ms (linecache, tokenize)

    traceback.print_exception(exc, file=sys.stderr)
    print(
        f"internal error: {type(exc).__name__} is a bug in thrifty, not in your input; please report it to "
        f"{REPORT_TO} with the command you ran, the traceback above and {versions()}",
        file=sys.stderr,
    )


def versions() -> str:
    """The versions a bug report needs, read without importing the heavy packages."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("thrifty", "torch", "transformers", "peft", "trl"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join([f"python {sys.version.split()[0]}", *found])
