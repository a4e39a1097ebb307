"""The one user-facing error type, and the exit codes every command shares.

0 passed, 1 a verdict (invalid data, gate blocked), 2 usage or configuration
error, 3 environment error (missing file, unreachable API, corrupt artifact).
A verdict is not an error: commands return 1, they do not raise.
"""

from __future__ import annotations

PASSED = 0
VERDICT = 1
USAGE = 2
ENVIRONMENT = 3


class CiMlError(Exception):
    """An error a user can act on; the CLI prints it without a traceback."""

    exit_code = ENVIRONMENT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(CiMlError):
    """ci-ml.yaml (or a flag) is wrong: names the key path, expected, found."""

    exit_code = USAGE


class EnvironmentProblem(CiMlError):
    """Something outside the config is missing, unreachable or corrupt."""

    exit_code = ENVIRONMENT


class IntegrityError(EnvironmentProblem):
    """An artifact's sha256 does not match its record: refused, never loaded."""


class DataError(CiMlError):
    """The data cannot be trusted (unparseable, empty, missing columns): a verdict."""

    exit_code = VERDICT
