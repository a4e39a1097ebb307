"""The team's own training command (`model.command`), run with a time limit.

The command runs in a process group of its own, so on expiry the whole group is
stopped (SIGTERM, then SIGKILL after a grace period): a shell's children and a
Spark driver's workers go too, and none is left writing into the challenger
folder after ci-ml has given up on it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ci_ml.errors import ConfigError, EnvironmentProblem

GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL: time to flush logs and exit cleanly
OUTPUT_LINES = 15  # of the command's output quoted in a failure
EXAMPLES = "'90s', '45m' or '6h'"
_UNITS = {"h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")


def parse_duration(text: str, where: str) -> float:
    """Seconds in a duration such as '90s', '45m', '6h' or '1h30m'; ConfigError else."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ConfigError(f"{where}: expected a duration such as {EXAMPLES}, got {text!r}")
    seconds = sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), "hms", strict=True) if n)
    if seconds <= 0:
        raise ConfigError(f"{where}: expected a duration above zero, got {text!r}")
    return float(seconds)


def show_duration(seconds: float) -> str:
    """'1h30m' for 5400 s: how a limit is named back to the user."""
    whole = int(seconds)
    parts = [(whole // 3600, "h"), (whole % 3600 // 60, "m"), (whole % 60, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"


@dataclass(frozen=True)
class CommandRun:
    """How model.command ended, for the run folder: `exit` (non-zero) or `timeout`."""

    command: tuple[str, ...]
    reason: str
    seconds: float
    output_tail: str
    returncode: int | None = None
    limit_seconds: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "command": list(self.command),
            "reason": self.reason,
            "returncode": self.returncode,
            "limit_seconds": self.limit_seconds,
            "seconds": round(self.seconds, 3),
            "output_tail": self.output_tail,
        }


class CommandFailed(EnvironmentProblem):
    """model.command did not produce a model: it exited non-zero, or ran past its limit."""

    def __init__(self, message: str, run: CommandRun) -> None:
        super().__init__(message)
        self.run = run


def run_command(command: tuple[str, ...], cwd: Path, env: dict[str, str], limit: float) -> None:
    """Run the command to completion within `limit` seconds, or raise CommandFailed."""
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
    except OSError as exc:
        raise EnvironmentProblem(f"model.command: cannot run {command[0]!r}: {exc}") from exc
    try:
        with _terminated_as_exit():
            out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        out, err = _stop_group(process)
        raise _timed_out(command, limit, time.monotonic() - started, err or out) from None
    finally:
        if process.returncode is None:  # ci-ml itself was interrupted: take the command along
            _signal_group(process, signal.SIGKILL)
            process.wait()
    if process.returncode != 0:
        raise _exited(command, process.returncode, time.monotonic() - started, err or out)


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """A SIGTERM to ci-ml (a cancelled job) while the command runs becomes SystemExit,
    so the command's own process group, outside ci-ml's, is stopped with it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _exit_on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop_group(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM the command's process group, SIGKILL it after the grace period; the
    output it wrote. Nothing to do for a group that has already gone."""
    if not _signal_group(process, signal.SIGTERM):
        return "", ""
    try:
        return process.communicate(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
    try:
        return process.communicate(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:  # a child that left the group keeps the pipes open
        return "", ""


def _signal_group(process: subprocess.Popen[str], sig: signal.Signals) -> bool:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _tail(output: str) -> str:
    return "\n".join(output.strip().splitlines()[-OUTPUT_LINES:])


def _timed_out(
    command: tuple[str, ...], limit: float, seconds: float, output: str
) -> CommandFailed:
    tail = _tail(output)
    message = (
        f"model.command {' '.join(command)!r} ran past model.timeout {show_duration(limit)} "
        "and was stopped (its whole process group); no model was kept and nothing was "
        "promoted. Raise model.timeout if training needs longer"
    )
    run = CommandRun(command, "timeout", seconds, tail, None, limit)
    return CommandFailed(message + (f". Its last output:\n{tail}" if tail else ""), run)


def _exited(command: tuple[str, ...], code: int, seconds: float, output: str) -> CommandFailed:
    tail = _tail(output)
    message = f"model.command exited with {code}:\n{tail}".rstrip()
    return CommandFailed(message, CommandRun(command, "exit", seconds, tail, code))
