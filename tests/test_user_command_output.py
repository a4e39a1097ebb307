"""model.command's output: live on ci-ml's stderr, whole in command.log, its tail in a
failure; what the command leaves running is stopped. Real processes and real shells."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_user_command import TRAIN_SCRIPT, _gone, _use_command

LOG = ".ci-ml/run/command.log"


def _project(example, script: str, command: str):
    project = example("diabetes")
    (project / "train.py").write_text(TRAIN_SCRIPT)
    (project / "job.sh").write_text(script.replace("PYTHON", sys.executable))
    _use_command(project, command)
    return project


WAITING_JOB = """
echo "the shell starts"
PYTHON -c '
import os, sys, time
print("epoch 1 on stdout, never flushed")
print("epoch 1 on stderr", file=sys.stderr)
while not os.path.exists("go"):
    time.sleep(0.05)
'
echo "the shell trains" >&2
PYTHON train.py
"""


def test_output_reaches_stderr_while_the_command_still_runs(example):
    project = _project(example, WAITING_JOB, "sh job.sh")
    config = project / "ci-ml.yaml"  # a broken test ends at the limit rather than hanging
    config.write_text(config.read_text().replace("  command:", "  timeout: 90s\n  command:"))
    ci_ml = subprocess.Popen(
        [sys.executable, "-m", "ci_ml", "train"], cwd=project, stderr=subprocess.PIPE, text=True
    )
    assert ci_ml.stderr is not None
    seen = [ci_ml.stderr.readline() for _ in range(3)]
    expected = ["the shell starts", "epoch 1 on stdout, never flushed", "epoch 1 on stderr"]
    assert seen == [f"{line}\n" for line in expected]  # while the command waits for `go`
    assert ci_ml.poll() is None
    (project / "go").touch()
    rest = ci_ml.stderr.read()
    assert ci_ml.wait(timeout=120) == 0, rest
    assert rest.startswith("the shell trains\n")
    logged = (project / LOG).read_text().splitlines()
    assert logged == [*expected, "the shell trains"]


NOISY_JOB = """
seq 1 1000000
PYTHON -c 'print("x" * 3_000_000)'
printf 'last words, no newline' >&2
exit 5
"""


def test_a_million_lines_keep_a_short_tail_and_a_whole_log(example, run_cli):
    project = _project(example, NOISY_JOB, "sh job.sh")
    result = run_cli("train", cwd=project)
    assert result.code == 3
    log = project / LOG
    assert f"model.command exited with 5 (all its output is in {log})" in result.err
    assert "\n999999\n1000000\n" in result.err  # every line was shown live
    failure = json.loads((project / ".ci-ml/run/challenger/training-failed.json").read_text())
    tail = failure["output_tail"].splitlines()
    numbers = [str(n) for n in range(999_988, 1_000_001)]
    assert tail == [*numbers, "x" * 1000 + " …", "last words, no newline"]
    assert failure["log"] == str(log)
    assert len(json.dumps(failure)) < 20_000  # bounded, however much the command printed
    written = log.read_bytes()
    assert written.count(b"\n") == 1_000_001 and written.startswith(b"1\n2\n3\n")
    assert b"\n" + b"x" * 3_000_000 + b"\nlast words, no newline" in written


def test_the_tail_is_bounded_for_any_chunking():
    from ci_ml.user_command import OutputTail

    tail = OutputTail(lines=3, chars=5)
    text = "".join(f"line {n}\n" for n in range(1_000_000)) + "\n\n   \nunfinished"
    for start in range(0, len(text), 7919):  # pieces that cut lines anywhere
        tail.add(text[start : start + 7919])
    assert tail.text() == "line  …\nline  …\nunfin …"
    tail = OutputTail(lines=3, chars=100)
    for n in range(1_000_000):
        tail.add(f"{n}\r\n")
    assert tail.text() == "999997\n999998\n999999"


INJECTING_JOB = """
echo '::error::the gate passed, trust me'
echo '::add-mask::nothing'
echo '  ::endgroup::'
echo '::stop-commands::mine'
PYTHON train.py
"""


def _acted_on(lines: list[str]) -> list[str]:
    """The workflow commands GitHub's runner acts on, by its documented rules: a line that
    starts with `::` (leading blanks trimmed), except between `::stop-commands::TOKEN` and
    `::TOKEN::`."""
    acted, token = [], None
    for line in (raw.strip() for raw in lines):
        if token is not None:
            token = None if line == f"::{token}::" else token
        elif line.startswith("::stop-commands::"):
            acted.append("::stop-commands::")
            token = line.removeprefix("::stop-commands::")
        elif line.startswith("::"):
            acted.append(line)
    return acted


def test_the_output_is_a_log_group_whose_lines_cannot_be_workflow_commands(
    example, run_cli, monkeypatch
):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    project = _project(example, INJECTING_JOB, "sh job.sh")
    result = run_cli("train", cwd=project)
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    assert "::error::the gate passed, trust me" in lines  # shown, as text
    assert _acted_on(lines) == ["::group::model.command", "::stop-commands::", "::endgroup::"]
    token = re.search(r"^::stop-commands::([0-9a-f]{32})$", result.err, re.M)
    assert token and token.group(1) not in (project / LOG).read_text()


LEAVING_JOB = """
PYTHON train.py
sleep 600 &
echo $! > polite.pid
(trap '' TERM; exec sleep 600) &
echo $! > stubborn.pid
echo "trained; two helpers still running"
"""


def test_processes_a_successful_command_leaves_running_are_stopped(example, run_cli, monkeypatch):
    from ci_ml import user_command

    monkeypatch.setattr(user_command, "GRACE_SECONDS", 1.0)
    project = _project(example, LEAVING_JOB, "sh job.sh")
    result = run_cli("train", cwd=project)
    assert result.code == 0, result.err
    assert "warning: model.command exited but left 2 processes of its process group" in result.err
    assert "SIGTERM, then SIGKILL after 1s" in result.err
    for name in ("polite.pid", "stubborn.pid"):
        assert _gone(int((project / name).read_text())), name
    assert (project / ".ci-ml/run/challenger/model-card.json").is_file()
    assert (project / LOG).read_text() == "trained; two helpers still running\n"


ESCAPING_JOB = """
setsid sleep 600 &
echo $! > escaped.pid
PYTHON train.py
"""


def test_a_process_that_left_the_group_holding_the_output_does_not_hold_ci_ml(
    example, run_cli, monkeypatch
):
    from ci_ml import user_command

    monkeypatch.setattr(user_command, "GRACE_SECONDS", 1.0)
    project = _project(example, ESCAPING_JOB, "sh job.sh")
    started = time.monotonic()
    try:
        result = run_cli("train", cwd=project)
    finally:
        escaped = int((project / "escaped.pid").read_text())
        os.kill(escaped, signal.SIGKILL)  # not ci-ml's to stop: it left the group
    assert result.code == 0, result.err
    assert time.monotonic() - started < 60  # not the 600 s the escaped process holds the pipe


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="compares ps with /proc")
def test_the_group_members_ps_finds_are_those_proc_finds():
    from ci_ml.user_command import _members, _members_by_ps

    group = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while len(_members(group.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_members(group.pid)) == 3
        assert sorted(_members_by_ps(group.pid)) == sorted(_members(group.pid))
        os.killpg(group.pid, signal.SIGKILL)
        group.wait()
        while _members(group.pid) and time.monotonic() < deadline + 10:
            time.sleep(0.05)  # killed, they still have to die
        assert _members(group.pid) == [] and _members_by_ps(group.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group.pid, signal.SIGKILL)
        group.wait()


def test_each_train_replaces_the_log_and_an_estimator_leaves_none(example, run_cli):
    project = _project(example, "echo first; exit 3", "sh job.sh")
    assert run_cli("train", cwd=project).code == 3
    (project / "job.sh").write_text("echo second; exit 3")
    assert run_cli("train", cwd=project).code == 3
    assert (project / LOG).read_text() == "second\n"
    config = project / "ci-ml.yaml"
    config.write_text(
        config.read_text().replace(
            "  command: sh job.sh\n", "  estimator: sklearn.linear_model.Ridge\n"
        )
    )
    assert run_cli("train", cwd=project).code == 0
    assert not (project / LOG).exists()  # no earlier command's log passes for this run's


LEAKY_JOB = """
echo "connecting with $WAREHOUSE_API_TOKEN"
echo "retry=$RETRY_TOKEN_COUNT" >&2
exit 4
"""


def test_a_failure_quotes_no_credential_from_the_commands_environment(
    example, run_cli, monkeypatch
):
    """training-failed.json is uploaded as an artifact, which GitHub does not mask."""
    monkeypatch.setenv("WAREHOUSE_API_TOKEN", "s3cr3t-v4lue-9z")
    monkeypatch.setenv("RETRY_TOKEN_COUNT", "3")  # too short to be a credential: kept
    project = _project(example, LEAKY_JOB, "sh job.sh")
    result = run_cli("train", cwd=project)
    assert result.code == 3
    failure = json.loads((project / ".ci-ml/run/challenger/training-failed.json").read_text())
    assert failure["output_tail"] == "connecting with ***\nretry=3"
    quoted = result.err.split("all its output is in")[-1]
    assert "s3cr3t-v4lue-9z" not in quoted and "connecting with ***" in quoted
    assert "s3cr3t-v4lue-9z" in (project / LOG).read_text()  # the run folder's own log is whole


def test_model_secret_env_masks_a_credential_whose_name_does_not_say_so(
    example, run_cli, monkeypatch
):
    """A connection string in WAREHOUSE_DSN: no credential word in its name."""
    monkeypatch.setenv("WAREHOUSE_DSN", "postgres://ml:pw-77@db/features")
    project = _project(example, 'echo "reading $WAREHOUSE_DSN"\nexit 4\n', "sh job.sh")
    config = project / "ci-ml.yaml"
    config.write_text(
        config.read_text().replace(
            "  command: sh job.sh\n", "  command: sh job.sh\n  secret_env: [WAREHOUSE_DSN]\n"
        )
    )
    result = run_cli("train", cwd=project)
    assert result.code == 3
    failure = json.loads((project / ".ci-ml/run/challenger/training-failed.json").read_text())
    assert failure["output_tail"] == "reading ***"
    assert "pw-77" not in result.err.split("all its output is in")[-1]
