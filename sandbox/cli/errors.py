"""The one way a command fails: a clear message and an exit code, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """Raised by commands for bad input or an unusable environment.

    The message says what was wrong and what is expected; main() prints it on one line
    as `kms-sandbox: error: <message>` and exits with `exit_code` (2 = usage/input, 1 = failure).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
