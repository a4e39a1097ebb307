"""Fork PRs: the PR job saves the comment, a workflow_run job with a write token posts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ml.errors import EnvironmentProblem
from ci_ml.github import GitHubSettings, post_saved_comment, publish
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, HEAD_SHA, REPO, marked, open_pr, settings_for


def save_from_fork(fake: FakeGitHub, pr: int, folder: Path) -> None:
    fake.forbid("comments.create")
    fake.forbid("statuses.create")
    publish(
        settings_for(fake, pr),
        "## Report\nfrom the fork",
        "model",
        "promote",
        "update",
        folder,
        options=FAST,
    )
    fake.clear_faults()


def poster_settings(fake: FakeGitHub, head_sha: str = HEAD_SHA) -> GitHubSettings:
    return settings_for(fake, None, event_name="workflow_run", head_sha=head_sha)


def test_the_workflow_run_job_posts_the_saved_comment(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pr = open_pr(fake_github)
    save_from_fork(fake_github, pr, tmp_path)
    assert fake_github.state.comments(REPO, pr) == []

    result = post_saved_comment(poster_settings(fake_github), tmp_path, options=FAST)

    assert result.posted and result.ok
    assert [c["body"] for c in marked(fake_github, pr)] == [
        "<!-- ci-ml report: model -->\n## Report\nfrom the fork"
    ]
    assert fake_github.state.repo(REPO).statuses == {}  # never from an untrusted artifact


def test_a_pr_that_moved_on_is_not_commented(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pr = open_pr(fake_github)
    save_from_fork(fake_github, pr, tmp_path)
    fake_github.state.repo(REPO).pulls[pr]["head_sha"] = "9" * 40  # a newer push

    result = post_saved_comment(poster_settings(fake_github), tmp_path, options=FAST)

    assert not result.posted
    assert "head is 999999999999" in result.failures[0]
    assert fake_github.state.comments(REPO, pr) == []


def test_a_tampered_pr_number_is_refused(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pr = open_pr(fake_github)
    victim = fake_github.state.add_pull(REPO, head_sha="7" * 40)
    save_from_fork(fake_github, pr, tmp_path)
    meta = json.loads((tmp_path / "comment-meta.json").read_text())
    (tmp_path / "comment-meta.json").write_text(json.dumps(meta | {"pr_number": victim}))

    result = post_saved_comment(poster_settings(fake_github), tmp_path, options=FAST)

    assert not result.posted
    assert fake_github.state.comments(REPO, victim) == []


def test_a_missing_artifact_is_an_environment_problem(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    with pytest.raises(EnvironmentProblem, match=r"comment-meta\.json"):
        post_saved_comment(poster_settings(fake_github), tmp_path / "nothing", options=FAST)


def test_workflow_run_event_gives_the_head_sha(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"workflow_run": {"head_sha": "d" * 40, "pull_requests": []}}))
    env = {
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_SHA": "e" * 40,
    }

    settings = GitHubSettings.from_env(env)

    assert settings.head_sha == "d" * 40 and settings.pr_number is None
