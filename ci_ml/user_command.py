"""The team's own training command (`model.command`), run with a time limit.

The command runs in a process group of its own, so on expiry the whole group is
stopped (SIGTERM, then SIGKILL after a grace period): a shell's children and a
Spark driver's workers go too, and none is left writing into the challenger
folder after ci-ml has given up on it. What the group leaves running when the
command exits is stopped the same way.

Its output (stdout and stderr, in one pipe, in the order written) is read in a
thread and passed on as it comes: to ci-ml's stderr, so a three-hour training run
has a live log in CI; whole to a log file in the run folder; and its last lines to
memory, for the failure message. Memory stays bounded however much it prints.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from ci_ml.errors import ConfigError, EnvironmentProblem

GRACE_SECONDS = 10.0  # between SIGTERM and SIGKILL: time to flush logs and exit cleanly
OUTPUT_LINES = 15  # of the command's output quoted in a failure
LINE_CHARS = 1000  # of one quoted line: a progress bar redrawn on one line runs to megabytes
CHUNK = 64 * 1024  # bytes read from the pipe at a time, as soon as any are there
_POLL = 0.05  # seconds between looks at whether a stopped group has gone
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
    log: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "command": list(self.command),
            "reason": self.reason,
            "returncode": self.returncode,
            "limit_seconds": self.limit_seconds,
            "seconds": round(self.seconds, 3),
            "output_tail": self.output_tail,
            "log": self.log,
        }


class CommandFailed(EnvironmentProblem):
    """model.command did not produce a model: it exited non-zero, or ran past its limit."""

    def __init__(self, message: str, run: CommandRun) -> None:
        super().__init__(message)
        self.run = run


def run_command(
    command: tuple[str, ...],
    cwd: Path,
    env: dict[str, str],
    limit: float,
    log: Path,
    in_actions: bool = False,
    secret_names: tuple[str, ...] = (),
) -> None:
    """Run the command to completion within `limit` seconds, its output streamed to
    ci-ml's stderr and written whole to `log`; raise CommandFailed unless it exits 0.
    A failure quotes the output's tail with the values of credential-named variables
    and of `secret_names` masked."""
    started = time.monotonic()
    with _log_file(log) as handle, _shown(in_actions):
        output = CommandOutput(handle, sys.stderr)
        code, left = _supervise(_start(command, cwd, env), output, limit)
    seconds = time.monotonic() - started
    tail = redact(output.tail.text(), secret_values(env, secret_names))
    if left:
        _warn(_left_behind(left), in_actions)
    if output.log_problem:
        _warn(f"{log}: model.command's log stopped early: {output.log_problem}", in_actions)
    if code is None:
        raise _timed_out(command, limit, seconds, tail, log)
    if code != 0:
        raise _exited(command, code, seconds, tail, log)


# Names of environment variables that hold credentials by convention (GITHUB_TOKEN,
# AWS_SECRET_ACCESS_KEY, MLFLOW_TRACKING_PASSWORD, ...). The job log is masked by
# GitHub, but the quoted tail also goes to training-failed.json, an uploaded artifact.
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE")
SHORTEST_SECRET = 6  # shorter values ("true", "0") are settings, and masking them garbles text


def secret_values(env: dict[str, str], names: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The values of `env` whose names say they are credentials, or are among `names`
    (model.secret_env, masked whatever their length), longest first."""
    found = {
        v for k, v in env.items() if SECRET_NAME.search(k.upper()) and len(v) >= SHORTEST_SECRET
    }
    found |= {env[k] for k in names if env.get(k)}
    return tuple(sorted(found, key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class OutputTail:
    """The last OUTPUT_LINES non-blank lines of a text stream, each cut at LINE_CHARS:
    what a failure quotes, in memory that does not grow with the output."""

    def __init__(self, lines: int = OUTPUT_LINES, chars: int = LINE_CHARS) -> None:
        self._lines: deque[str] = deque(maxlen=lines)
        self._count = lines
        self._chars = chars
        self._open = ""  # the line still being written, kept to chars + 1 characters

    def add(self, text: str) -> None:
        *ended, rest = (self._open + text).split("\n")
        for line in ended[-self._count :]:  # earlier ones would be pushed out at once
            if shown := self._cut(line):
                self._lines.append(shown)
        self._open = rest[: self._chars + 1]

    def text(self) -> str:
        lines = [*self._lines, self._cut(self._open)]
        return "\n".join([line for line in lines if line][-self._count :])

    def _cut(self, line: str) -> str:
        line = line.rstrip()
        return line if len(line) <= self._chars else f"{line[: self._chars]} …"


class CommandOutput:
    """Where the command's output goes as it comes: ci-ml's stderr, the log file and the
    tail. Closed when ci-ml is done with the command: a process that left its group and
    still writes reaches none of them."""

    def __init__(self, log: BinaryIO, live: TextIO) -> None:
        self.tail = OutputTail()
        self.log_problem = ""
        self._log: BinaryIO | None = log
        self._live: TextIO | None = live
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
        self._lock = threading.Lock()
        self._mid_line = False
        self._closed = False

    def write(self, chunk: bytes) -> None:
        with self._lock:
            if not self._closed:
                self._to_log(chunk)
                self._show(self._decode(chunk))

    def close(self) -> None:
        with self._lock:
            self._show(self._decode(b"", final=True))
            if self._mid_line:  # what ci-ml prints next starts a line of its own
                self._show("\n")
            self._closed = True

    def _to_log(self, chunk: bytes) -> None:
        if self._log is None:
            return
        try:
            self._log.write(chunk)
            self._log.flush()  # the log file is as live as the job log
        except OSError as exc:  # a full disk: training goes on, the warning says so
            self.log_problem, self._log = str(exc.strerror or exc), None

    def _show(self, text: str) -> None:
        if not text:
            return
        self.tail.add(text)
        self._mid_line = not text.endswith("\n")
        if self._live is None:
            return
        try:
            self._live.write(text)
            self._live.flush()
        except (OSError, ValueError):  # stderr closed (`ci-ml train 2>&1 | head`)
            self._live = None


@contextlib.contextmanager
def _log_file(path: Path) -> Iterator[BinaryIO]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("wb")  # ci-ml's own file: a rerun's log replaces the last one
    except OSError as exc:
        raise EnvironmentProblem(
            f"{path}: cannot write model.command's log: {exc.strerror or exc}"
        ) from exc
    with handle:
        yield handle


@contextlib.contextmanager
def _shown(in_actions: bool) -> Iterator[None]:
    """In GitHub Actions the output is a collapsible group of the job log, and no line of
    it is taken for a workflow command (`::add-mask::`, `::error::`, `::endgroup::`)."""
    if not in_actions:
        yield
        return
    from ci_ml.github.runner import commands_stopped, group

    with group("model.command"), commands_stopped():
        yield


def _start(command: tuple[str, ...], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command, cwd=cwd, env=env, start_new_session=True, bufsize=0,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
    except OSError as exc:
        raise EnvironmentProblem(f"model.command: cannot run {command[0]!r}: {exc}") from exc


def _supervise(
    process: subprocess.Popen[bytes], output: CommandOutput, limit: float
) -> tuple[int | None, int]:
    """The command's exit code (None: stopped at `limit`) and how many processes it left
    running in its group, which are stopped too."""
    reader = _reading(process, output)
    try:
        with _terminated_as_exit():
            code = _exit_code(process, limit)
            return code, _stop_group(process.pid)
    except BaseException:  # ci-ml itself was interrupted: take the command along
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        _finish_reading(reader, process, output)


def _exit_code(process: subprocess.Popen[bytes], limit: float) -> int | None:
    """The command's exit code, or None when it ran past `limit` and its group was stopped."""
    try:
        return process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        _stop_group(process.pid)
        process.wait()
        return None


def _reading(process: subprocess.Popen[bytes], output: CommandOutput) -> threading.Thread:
    assert process.stdout is not None
    pipe = process.stdout.fileno()
    reader = threading.Thread(target=_pump, args=(pipe, output), name="model.command output")
    reader.daemon = True  # blocked on a pipe an escaped process holds, it must not hold ci-ml
    reader.start()
    return reader


def _pump(pipe: int, output: CommandOutput) -> None:
    with contextlib.suppress(OSError):  # the pipe itself failing ends the output, not training
        while chunk := os.read(pipe, CHUNK):  # whatever is there, as soon as it is
            output.write(chunk)


def _finish_reading(
    reader: threading.Thread, process: subprocess.Popen[bytes], output: CommandOutput
) -> None:
    """Read what is still in the pipe. A process that left the group (setsid) may hold
    it open past the command's end, so the wait for the end of the output is bounded."""
    reader.join(timeout=GRACE_SECONDS)
    output.close()
    if not reader.is_alive() and process.stdout is not None:
        process.stdout.close()


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


def _stop_group(group: int) -> int:
    """SIGTERM a process group, SIGKILL it if any of it is left after the grace period;
    how many of its processes were running. Nothing to do for a group that has gone."""
    running = len(_members(group))
    if running and _signal_group(group, signal.SIGTERM) and not _emptied(group):
        _signal_group(group, signal.SIGKILL)
        _emptied(group)
    return running


def _signal_group(group: int, sig: int) -> bool:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _emptied(group: int) -> bool:
    """Whether the group's last process is gone within the grace period."""
    deadline = time.monotonic() + GRACE_SECONDS
    while _members(group):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)
    return True


def _members(group: int) -> list[int]:
    """The processes of a process group that still run (a zombie has ended: it only
    waits for its parent to read its exit code)."""
    if not os.path.isdir("/proc/self"):
        return _members_by_ps(group)
    pids = (name for name in os.listdir("/proc") if name.isdigit())
    return [int(pid) for pid in pids if _proc_group(pid) == group]


def _proc_group(pid: str) -> int | None:
    """The process group of a running process, from /proc; None for a zombie or one gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state, _parent, group = handle.read().rpartition(b")")[2].split()[:3]
    except (OSError, ValueError):
        return None
    return None if state == b"Z" else int(group)


def _members_by_ps(group: int) -> list[int]:
    """The same from `ps`, where there is no /proc (a macOS runner)."""
    try:
        listing = subprocess.run(
            ["ps", "-A", "-o", "pid=,pgid=,stat="],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):  # no ps either: at least the group's leader
        return [group] if _signal_group(group, 0) else []
    rows = (line.split() for line in listing.splitlines())
    return [int(r[0]) for r in rows if len(r) == 3 and int(r[1]) == group and r[2][0] != "Z"]


def _warn(text: str, in_actions: bool) -> None:
    if in_actions:
        from ci_ml.github.runner import annotation

        print(annotation("warning", text, title="ci-ml"), file=sys.stderr, flush=True)
    else:
        print(f"warning: {text}", file=sys.stderr, flush=True)


def _left_behind(count: int) -> str:
    them = "1 process" if count == 1 else f"{count} processes"
    return (
        f"model.command exited but left {them} of its process group running; ci-ml "
        f"stopped {'it' if count == 1 else 'them'} (SIGTERM, then SIGKILL after "
        f"{show_duration(GRACE_SECONDS)}) so none goes on writing into the run folder"
    )


def _timed_out(
    command: tuple[str, ...], limit: float, seconds: float, tail: str, log: Path
) -> CommandFailed:
    message = (
        f"model.command {' '.join(command)!r} ran past model.timeout {show_duration(limit)} "
        "and was stopped (its whole process group); no model was kept and nothing was "
        f"promoted. Raise model.timeout if training needs longer. All its output is in {log}"
    )
    run = CommandRun(command, "timeout", seconds, tail, None, limit, str(log))
    return CommandFailed(message + (f"; its last lines:\n{tail}" if tail else ""), run)


def _exited(
    command: tuple[str, ...], code: int, seconds: float, tail: str, log: Path
) -> CommandFailed:
    message = f"model.command exited with {code} (all its output is in {log}):\n{tail}"
    run = CommandRun(command, "exit", seconds, tail, code, log=str(log))
    return CommandFailed(message.rstrip(), run)
