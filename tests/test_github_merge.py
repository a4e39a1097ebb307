"""promote-on-merge's GitHub side against the fake: the PR check's run found from its
status on the head commit, and the note on the merged PR."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_ml.commands import find_check as command
from ci_ml.environment import Environment
from ci_ml.errors import EnvironmentProblem
from ci_ml.github.client import CallContext
from ci_ml.github.merge import find_check, note_on_pull_request
from ci_ml.workspace import open_workspace
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, HEAD_SHA, REPO, TOKEN, marked, repo_of, settings_for

CONTEXT = CallContext(FAST, TOKEN, "pull_request_target")
RUN = "https://github.invalid/octo/demo/actions/runs/{}"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def report_status(fake: FakeGitHub, state: str, run: int, context: str = "ci-ml/model") -> None:
    commit = repo_of(fake).get_commit(HEAD_SHA)
    commit.create_status(state=state, target_url=RUN.format(run), context=context)


def test_the_newest_status_of_the_report_names_the_run(fake_github: FakeGitHub) -> None:
    report_status(fake_github, "failure", 40)
    report_status(fake_github, "success", 41)  # pushed again, passed: the newest counts
    report_status(fake_github, "success", 99, context="ci-ml/another-model")
    found = find_check(repo_of(fake_github), HEAD_SHA, "model", CONTEXT)
    assert (found.state, found.run_id) == ("success", "41")
    assert found.run_url == RUN.format(41)


def test_a_commit_the_check_never_reported_on_is_an_environment_error(
    fake_github: FakeGitHub,
) -> None:
    with pytest.raises(EnvironmentProblem, match="has no ci-ml/model status"):
        find_check(repo_of(fake_github), HEAD_SHA, "model", CONTEXT)


def test_a_token_without_statuses_read_names_the_permission(fake_github: FakeGitHub) -> None:
    report_status(fake_github, "success", 41)
    fake_github.token(TOKEN, permissions={"contents": "write"})
    with pytest.raises(EnvironmentProblem, match="statuses: read"):
        find_check(repo_of(fake_github), HEAD_SHA, "model", CONTEXT)


def test_the_command_writes_the_run_and_fails_a_check_that_did_not_pass(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output.txt"
    variables = {
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_OUTPUT": str(out),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    ws = open_workspace(str(EXAMPLES / "penguins" / "ci-ml.yaml"), str(tmp_path / "run"), "model")
    assert isinstance(ws.env, Environment)
    report_status(fake_github, "failure", 40)
    assert command.run(ws, HEAD_SHA, FAST) == 1
    report_status(fake_github, "success", 41)
    assert command.run(ws, HEAD_SHA, FAST) == 0
    assert out.read_text().endswith(f"run-id=41\nrun-url={RUN.format(41)}\n")


def test_the_note_is_one_sticky_comment(fake_github: FakeGitHub) -> None:
    pr = fake_github.state.add_pull(REPO, head_sha=HEAD_SHA)
    settings = settings_for(fake_github, pr)
    assert note_on_pull_request(settings, pr, "promoted as v1", "model", FAST)
    assert note_on_pull_request(settings, pr, "promoted as v1, again", "model", FAST)
    [note] = marked(fake_github, pr, "model/promotion")
    assert note["body"].endswith("promoted as v1, again")


def test_a_refused_note_is_a_warning_not_a_failure(
    fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = fake_github.state.add_pull(REPO, head_sha=HEAD_SHA)
    fake_github.token(TOKEN, permissions={"contents": "write"})
    assert not note_on_pull_request(settings_for(fake_github, pr), pr, "v1", "model", FAST)
    err = capsys.readouterr().err
    assert "::warning" in err and "pull-requests: write" in err
