"""The one exception type the CLI turns into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input the user can fix: a file, a line, a field. The message says what to do."""


EXIT_USER_ERROR = 2
