"""`ci-ml check` inside GitHub Actions, against the fake GitHub server, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakegithub import FakeGitHub
from tests.github_support import (
    HEAD_SHA,
    REPO,
    TOKEN,
    marked,
    open_pr,
    pull_request_env,
    set_env,
)


def read_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does: name=value or name<<DELIMITER blocks."""
    lines, values, index = path.read_text().splitlines(), {}, 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
        else:
            name, value = line.split("=", 1)
            values[name] = value
            index += 1
    return values


@pytest.fixture
def actions_env(tmp_path, monkeypatch, fake_github: FakeGitHub):
    """The variables a pull_request run gives a step, pointing at the fake server."""
    number = open_pr(fake_github)
    set_env(monkeypatch, pull_request_env(tmp_path, number, fake_github))
    return number


def test_pull_request_run_posts_one_comment_sets_status_and_outputs(
    example, run_cli, fake_github, actions_env, tmp_path
):
    project = example("diabetes")
    first = run_cli("check", cwd=project)
    assert first.code == 0, first.err
    second = run_cli("check", cwd=project)
    assert second.code == 0
    comments = marked(fake_github, actions_env, "ci-ml.yaml")
    assert len(comments) == 1  # edited in place, not a second comment
    assert "## ci-ml · diabetes" in comments[0]["body"]
    statuses = fake_github.state.repo(REPO).statuses[HEAD_SHA]
    assert {s["context"] for s in statuses} == {"ci-ml/ci-ml.yaml"}
    assert statuses[-1]["state"] == "success"
    outputs = read_outputs(tmp_path / "output.txt")
    assert outputs["verdict"] == "promote"
    assert outputs["primary-metric"] == "neg_root_mean_squared_error"
    assert float(outputs["challenger-value"]) > 0  # RMSE shown as a loss
    assert outputs["report-path"].endswith("report.json")
    assert (tmp_path / "summary.md").read_text().startswith("## ci-ml · diabetes")
    assert TOKEN not in first.out + first.err


def test_blocked_gate_sets_failure_status_and_annotates(example, run_cli, fake_github, actions_env):
    project = example("diabetes")
    config = project / "ci-ml.yaml"
    config.write_text(
        config.read_text().replace("{metric: r2, min: 0.3}", "{metric: r2, min: 0.9}")
    )
    result = run_cli("check", "--report-id", "diabetes", cwd=project)
    assert result.code == 1
    assert "::error title=ci-ml gate%3A gate[1] min::r2" in result.err
    statuses = fake_github.state.repo(REPO).statuses[HEAD_SHA]
    assert (statuses[-1]["context"], statuses[-1]["state"]) == ("ci-ml/diabetes", "failure")
    assert len(marked(fake_github, actions_env, "diabetes")) == 1


def test_fork_token_403_keeps_the_verdict_and_saves_the_comment(
    example, run_cli, fake_github, actions_env, monkeypatch, tmp_path
):
    project = example("diabetes")
    fake_github.forbid("comments.list")
    fake_github.forbid("statuses.create")
    result = run_cli("check", cwd=project)
    assert result.code == 0  # the gate passed; posting failing changes nothing
    assert "::warning title=ci-ml::could not post the PR comment" in result.err
    saved = project / ".ci-ml/run/comment"
    assert "## ci-ml · diabetes" in (saved / "comment.md").read_text()
    assert json.loads((saved / "comment-meta.json").read_text())["pr_number"] == actions_env
    assert marked(fake_github, actions_env, "ci-ml.yaml") == []

    # the workflow_run job, with a write token, posts what the fork's run saved
    fake_github.clear_faults()
    event = tmp_path / "workflow_run.json"
    event.write_text(json.dumps({"workflow_run": {"head_sha": HEAD_SHA}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_run")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    posted = run_cli("post-comment", str(saved), cwd=project)
    assert posted.code == 0, posted.err
    assert len(marked(fake_github, actions_env, "ci-ml.yaml")) == 1


def test_no_github_flag_posts_nothing(example, run_cli, fake_github, actions_env):
    project = example("diabetes")
    assert run_cli("check", "--no-github", cwd=project).code == 0
    assert fake_github.state.count("comments.create") == 0


def test_outside_actions_nothing_is_posted(example, run_cli, fake_github, monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    project = example("diabetes")
    assert run_cli("check", cwd=project).code == 0
    assert fake_github.state.requests == []


def test_validation_findings_are_a_collapsible_log_group_in_actions(example, run_cli, actions_env):
    project = example("diabetes")
    (project / "data/train.csv").write_text("age,sex\n1,male\n")
    result = run_cli("validate", cwd=project)
    assert result.code == 1
    assert "::group::ci-ml validate: 1 finding(s)" in result.err
    assert (
        result.err.index("::group::")
        < result.err.index("'progression'")
        < result.err.index("::endgroup::")
    )


def test_a_report_step_without_its_event_file_says_which_variable(
    example, run_cli, fake_github, actions_env, monkeypatch
):
    project = example("diabetes")
    assert run_cli("check", "--no-github", cwd=project).code == 0  # --no-github: not looked at
    monkeypatch.setenv("GITHUB_EVENT_PATH", "")
    result = run_cli("report", cwd=project)
    assert result.code == 3 and "Traceback" not in result.err
    assert "GITHUB_EVENT_PATH is not set: a pull_request run reads" in result.err
    assert fake_github.state.count("comments.create") == 0
    assert run_cli("report", "--no-github", cwd=project).code == 0
