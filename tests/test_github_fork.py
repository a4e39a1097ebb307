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


SECRET = "ghs_THE_JOB_TOKEN_must_never_leave"


def test_a_symlinked_comment_is_refused_and_the_secret_stays_home(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pr = open_pr(fake_github)
    artifact = tmp_path / "artifact"
    save_from_fork(fake_github, pr, artifact)
    environ = tmp_path / "environ"  # stands in for /proc/self/environ
    environ.write_text(f"GITHUB_TOKEN={SECRET}\n")
    (artifact / "comment.md").unlink()
    (artifact / "comment.md").symlink_to(environ)

    with pytest.raises(EnvironmentProblem, match=r"comment\.md: expected a regular file"):
        post_saved_comment(poster_settings(fake_github), artifact, options=FAST)

    assert all(SECRET.encode() not in r.body for r in fake_github.state.requests)
    assert fake_github.state.comments(REPO, pr) == []


def test_a_symlinked_meta_file_is_refused(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pr = open_pr(fake_github)
    artifact = tmp_path / "artifact"
    save_from_fork(fake_github, pr, artifact)
    outside = tmp_path / "elsewhere.json"
    outside.write_text((artifact / "comment-meta.json").read_text())
    (artifact / "comment-meta.json").unlink()
    (artifact / "comment-meta.json").symlink_to(outside)
    before = len(fake_github.state.requests)

    with pytest.raises(EnvironmentProblem, match="symlink, refused"):
        post_saved_comment(poster_settings(fake_github), artifact, options=FAST)
    assert len(fake_github.state.requests) == before


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("head_sha", HEAD_SHA + "\n::set-output name=x::y", "head_sha: expected 40"),
        ("head_sha", HEAD_SHA[:-1], "head_sha: expected 40"),
        ("pr_number", "1", "pr_number: expected a positive integer"),
        ("pr_number", True, "pr_number: expected a positive integer"),
        ("pr_number", -3, "pr_number: expected a positive integer"),
        ("report_id", "x\n::error::owned", "report id"),
        ("comment_mode", "upsert", "comment mode"),
    ],
)
def test_every_field_of_the_saved_meta_is_checked(
    fake_github: FakeGitHub, tmp_path: Path, field: str, value: object, expected: str
) -> None:
    pr = open_pr(fake_github)
    save_from_fork(fake_github, pr, tmp_path)
    meta = json.loads((tmp_path / "comment-meta.json").read_text())
    (tmp_path / "comment-meta.json").write_text(json.dumps(meta | {field: value}))
    before = len(fake_github.state.requests)

    with pytest.raises(EnvironmentProblem, match=expected) as refused:
        post_saved_comment(poster_settings(fake_github), tmp_path, options=FAST)

    assert "\n" not in str(refused.value)  # nothing can start a workflow command in the log
    assert len(fake_github.state.requests) == before


def test_an_oversized_comment_is_refused(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pr = open_pr(fake_github)
    save_from_fork(fake_github, pr, tmp_path)
    (tmp_path / "comment.md").write_text("x" * (4 * 65_536 + 1))

    with pytest.raises(EnvironmentProblem, match="larger than"):
        post_saved_comment(poster_settings(fake_github), tmp_path, options=FAST)
