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
    values |= {"FAIL_ON_VERDICT": "true", "REUSE_ENVIRONMENT": "true"}
    values |= {"EXTRAS": "", "EXTRA_PACKAGES": ""}
    values |= overrides
    return {f"CI_ML_INPUT_{k}": v for k, v in values.items()}


@pytest.mark.parametrize(
    "command",
    ["check", "validate", "train", "evaluate", "gate", "report", "promote", "drift", "pull"],
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
        ("VERSION", "latest"),
        ("VERSION", "0"),
        ("VERSION", "2; rm -rf /"),
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


def test_pull_fetches_into_run_dir_and_the_chosen_version(tmp_path: Path) -> None:
    _, log, _ = run_step(tmp_path, 0, COMMAND="pull", VERSION="7")
    assert "fake ci-ml registry pull -o ci-ml-champion --version 7" in log


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


def locate_env(tmp_path: Path, **inputs: str) -> dict[str, str]:
    values = {"WORKING_DIRECTORY": str(tmp_path), "CONSTRAINTS": "pinned", "REQUIREMENTS": ""}
    values |= {"REUSE_ENVIRONMENT": "true"} | inputs
    return {f"CI_ML_INPUT_{k}": v for k, v in values.items()} | {
        "CI_ML_PYTHON": sys.executable,
        "CI_ML_EXTRAS": "",
        "CI_ML_EXTRA_PACKAGES": "",
        "GITHUB_ACTION_PATH": str(REPO),
        "RUNNER_TOOL_CACHE": str(tmp_path / "tools"),
        "RUNNER_TEMP": str(tmp_path),
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
    }


def locate(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    output = tmp_path / "output.txt"
    output.write_text("")
    done = bash(LOCATE, env | {"GITHUB_OUTPUT": str(output)}, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_locate_names_one_environment_per_ci_ml_version(tmp_path: Path) -> None:
    env = locate_env(tmp_path)
    values = locate(tmp_path, env)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert values["venv"].startswith(str(tmp_path / "tools" / "ci-ml") + "/")
    assert values["venv"].endswith(f"-py{version}")
    assert values["ready"] == "false"
    assert values["pip-key"].startswith(f"ci-ml-pip-Linux-X64-py{version}-")
    assert values["constraints-file"] == str(REPO / "constraints" / "ci-ml-constraints.txt")
    assert locate(tmp_path, env) == values  # stable: the same code, the same place


def test_what_the_inputs_install_gets_an_environment_of_its_own(tmp_path: Path) -> None:
    env = locate_env(tmp_path)
    plain = locate(tmp_path, env)
    (tmp_path / "requirements.txt").write_text("lightgbm==4.6.0\n")
    variants = [
        env | {"CI_ML_EXTRAS": "mlflow"},
        env | {"CI_ML_EXTRA_PACKAGES": "lightgbm==4.6.0"},
        env | {"CI_ML_INPUT_REQUIREMENTS": "requirements.txt"},
        env | {"CI_ML_INPUT_CONSTRAINTS": "none"},
    ]
    found = [locate(tmp_path, variant) for variant in variants]
    assert len({plain["venv"], *(v["venv"] for v in found)}) == 5
    assert found[2]["requirements-file"] == str(tmp_path / "requirements.txt")
    assert found[3]["constraints-file"] == ""
    assert found[3]["pip-key"] != plain["pip-key"]  # other pins, other wheels


@pytest.mark.parametrize("name", ["CONSTRAINTS", "REQUIREMENTS"])
def test_a_missing_file_input_is_a_usage_error(name: str, tmp_path: Path) -> None:
    env = locate_env(tmp_path, **{name: "nope.txt"})
    done = bash(LOCATE, env | {"GITHUB_OUTPUT": str(tmp_path / "out")}, tmp_path)
    assert done.returncode == 2
    assert f"::error title=ci-ml::input {name.lower()} is 'nope.txt'" in done.stdout


def test_windows_is_refused_at_the_first_step(tmp_path: Path) -> None:
    done = bash(CHECK, inputs() | {"RUNNER_OS": "Windows"}, tmp_path)
    assert done.returncode == 3
    assert "runs on Linux and macOS runners, not Windows" in done.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EXTRAS", "mlflow;rm"),
        ("EXTRA_PACKAGES", "lightgbm --index-url=http://x"),
        ("REUSE_ENVIRONMENT", "sometimes"),
    ],
)
def test_bad_install_inputs_stop_with_exit_2(name: str, value: str, tmp_path: Path) -> None:
    done = bash(CHECK, inputs(**{name: value}), tmp_path)
    assert done.returncode == 2
    assert "::error title=ci-ml::input " in done.stdout
