"""The action's own bash, run directly (no runner): input checks, exit codes,
fail-on-verdict, the drift shim and the outputs it adds to ci-ml's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
STEPS = {
    s.get("name"): s for s in yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]
}
CHECK = STEPS["Check the inputs"]["run"]
RUN = STEPS["Run ci-ml ${{ inputs.command }}"]["run"]
EXAMPLE = REPO / "examples" / "penguins"


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],  # as GitHub runs it
        env={"PATH": os.environ["PATH"], "HOME": str(Path.home()), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def inputs(**overrides: str) -> dict[str, str]:
    values = {"COMMAND": "check", "COMMENT": "update", "PROMOTE": "false"}
    values |= {"FAIL_ON_VERDICT": "true"}
    values |= overrides
    return {f"CI_ML_INPUT_{k}": v for k, v in values.items()}


@pytest.mark.parametrize(
    "command", ["check", "validate", "train", "evaluate", "gate", "report", "promote", "drift"]
)
def test_known_commands_pass_the_check(command: str, tmp_path: Path) -> None:
    assert bash(CHECK, inputs(COMMAND=command), tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("COMMAND", "rm -rf /"),
        ("COMMENT", "sometimes"),
        ("PROMOTE", "yes"),
        ("FAIL_ON_VERDICT", "maybe"),
    ],
)
def test_bad_inputs_stop_with_exit_2_and_an_annotation(
    name: str, value: str, tmp_path: Path
) -> None:
    done = bash(CHECK, inputs(**{name: value}), tmp_path)
    assert done.returncode == 2
    assert done.stdout.startswith("::error title=ci-ml::input ")
    assert f"'{value}'" in done.stdout


def fake_ci_ml(tmp_path: Path, code: int) -> Path:
    """A stand-in `ci-ml` exiting with `code`, next to a `python` that has ci_ml."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "ci-ml"
    script.write_text(f'#!/usr/bin/env bash\necho "fake ci-ml $*"\nexit {code}\n')
    script.chmod(0o755)
    (folder / "python").symlink_to(sys.executable)
    return script


def run_step(tmp_path: Path, code: int, **overrides: str) -> tuple[int, str, str]:
    output = tmp_path / "output.txt"
    output.touch()
    env = inputs(**overrides) | {
        "CI_ML": str(fake_ci_ml(tmp_path, code)),
        "CI_ML_INPUT_WORKING_DIRECTORY": str(tmp_path),
        "CI_ML_INPUT_RUN_DIR": "",
        "CI_ML_INPUT_REPORT_ID": "",
        "CI_ML_CONFIG": str(EXAMPLE / "ci-ml.yaml"),
        "CI_ML_COMMENT": "off",
        "GITHUB_OUTPUT": str(output),
    }
    done = bash(RUN, env, tmp_path)
    return done.returncode, done.stdout + done.stderr, output.read_text()


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_exit_code_passes_through_and_is_an_output(code: int, tmp_path: Path) -> None:
    returned, log, outputs = run_step(tmp_path, code, COMMAND="gate")
    assert returned == code
    assert f"exit-code={code}" in outputs
    assert "fake ci-ml gate" in log


@pytest.mark.parametrize(("code", "expected"), [(1, 0), (2, 2), (3, 3)])
def test_fail_on_verdict_false_lets_only_a_verdict_pass(
    code: int, expected: int, tmp_path: Path
) -> None:
    returned, _, outputs = run_step(tmp_path, code, COMMAND="gate", FAIL_ON_VERDICT="false")
    assert returned == expected
    assert f"exit-code={code}" in outputs


def test_check_with_promote_passes_the_flag(tmp_path: Path) -> None:
    _, log, _ = run_step(tmp_path, 0, COMMAND="check", PROMOTE="true")
    assert "fake ci-ml check --promote" in log


def test_working_directory_that_is_not_a_folder_is_an_environment_error(tmp_path: Path) -> None:
    env = inputs() | {
        "CI_ML": "/bin/false",
        "CI_ML_INPUT_WORKING_DIRECTORY": str(tmp_path / "nope"),
        "CI_ML_INPUT_RUN_DIR": "",
        "CI_ML_INPUT_REPORT_ID": "",
        "CI_ML_CONFIG": "ci-ml.yaml",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    done = bash(RUN, env, tmp_path)
    assert done.returncode == 3
    assert "working-directory" in done.stdout


def test_report_id_reaches_ci_ml_through_the_environment(tmp_path: Path) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "ci-ml"
    script.write_text('#!/usr/bin/env bash\necho "id=$CI_ML_REPORT_ID run=$CI_ML_RUN_DIR"\n')
    script.chmod(0o755)
    (folder / "python").symlink_to(sys.executable)
    env = inputs(COMMAND="train") | {
        "CI_ML": str(script),
        "CI_ML_INPUT_WORKING_DIRECTORY": str(tmp_path),
        "CI_ML_INPUT_RUN_DIR": "/tmp/run",
        "CI_ML_INPUT_REPORT_ID": "churn",
        "CI_ML_CONFIG": str(EXAMPLE / "ci-ml.yaml"),
        "GITHUB_OUTPUT": str(tmp_path / "out"),
    }
    done = bash(RUN, env, tmp_path)
    assert "id=churn run=/tmp/run" in done.stdout


LOCATE = STEPS["Locate the ci-ml environment"]["run"]


def test_locate_names_one_environment_per_ci_ml_version(tmp_path: Path) -> None:
    output = tmp_path / "output.txt"
    env = {
        "CI_ML_PYTHON": sys.executable,
        "GITHUB_ACTION_PATH": str(REPO),
        "RUNNER_TOOL_CACHE": str(tmp_path / "tools"),
        "RUNNER_TEMP": str(tmp_path),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "GITHUB_OUTPUT": str(output),
    }
    done = bash(LOCATE, env, tmp_path)
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert values["venv"].startswith(str(tmp_path / "tools" / "ci-ml") + "/")
    assert values["venv"].endswith(f"-py{version}")
    assert values["ready"] == "false"
    assert values["pip-key"].startswith(f"ci-ml-pip-Linux-X64-py{version}-")
    again = tmp_path / "again.txt"
    bash(LOCATE, env | {"GITHUB_OUTPUT": str(again)}, tmp_path)
    assert again.read_text() == output.read_text()  # stable: the same code, the same place
