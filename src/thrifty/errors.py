"""The one exception type the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input the user can fix: a file, a line, a field. The message says what to do."""


EXIT_USER_ERROR = 2

# EX_TEMPFAIL from sysexits.h: "temporary failure, try again". `thrifty train` exits with it after a
# SIGTERM/SIGINT or a preemption notice, once a checkpoint is safely written: rerun with --resume auto.
EXIT_PREEMPTED = 75


class Preempted(Exception):
    """Training stopped on a signal or a preemption notice after writing a checkpoint."""
