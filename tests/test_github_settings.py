"""GitHubSettings from the runner's environment, and the decision to post."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from github import GithubException

from ci_ml.errors import EnvironmentProblem
from ci_ml.github import GitHubSettings, rate_limit_wait, should_post

SECRET = "ghs_do_not_print_me_0123456789"


def pr_event(tmp_path: Path, number: int = 17, head: str = "ab" * 20) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"pull_request": {"number": number, "head": {"sha": head}}}))
    return str(path)


def runner_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": "https://ghe.example/api/v3",
        "GITHUB_REPOSITORY": "octo/demo",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": pr_event(tmp_path),
        "GITHUB_SHA": "ff" * 20,
        "GITHUB_SERVER_URL": "https://ghe.example",
        "GITHUB_RUN_ID": "99",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_TOKEN": SECRET,
    }
    return env | extra


def test_pull_request_event(tmp_path: Path) -> None:
    s = GitHubSettings.from_env(runner_env(tmp_path))

    assert s.in_actions and s.token == SECRET
    assert s.api_url == "https://ghe.example/api/v3"
    assert (s.pr_number, s.head_sha) == (17, "ab" * 20)  # the PR head, not the merge commit
    assert s.run_url == "https://ghe.example/octo/demo/actions/runs/99"
    assert s.output_path == tmp_path / "out"
    assert s.summary_path == tmp_path / "summary.md"


def test_push_event_uses_github_sha(tmp_path: Path) -> None:
    s = GitHubSettings.from_env(runner_env(tmp_path, GITHUB_EVENT_NAME="push"))
    assert s.pr_number is None
    assert s.head_sha == "ff" * 20


def test_defaults_outside_actions() -> None:
    s = GitHubSettings.from_env({})
    assert not s.in_actions
    assert s.api_url == "https://api.github.com"
    assert s.token == "" and s.run_url == "" and s.output_path is None


def test_token_precedence(tmp_path: Path) -> None:
    env = runner_env(tmp_path, **{"INPUT_GITHUB-TOKEN": "from-input"})
    assert GitHubSettings.from_env(env).token == "from-input"
    assert GitHubSettings.from_env(env, token="explicit").token == "explicit"


def test_the_token_is_not_in_repr(tmp_path: Path) -> None:
    s = GitHubSettings.from_env(runner_env(tmp_path))
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert "octo/demo" in repr(s)


def test_an_unreadable_event_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken-event.json"
    bad.write_text("{not json")
    with pytest.raises(EnvironmentProblem, match="GITHUB_EVENT_PATH") as caught:
        GitHubSettings.from_env(runner_env(tmp_path, GITHUB_EVENT_PATH=str(bad)))
    assert str(bad) in caught.value.message
    assert SECRET not in caught.value.message


ON_PR = GitHubSettings(
    in_actions=True, token="t", repository="o/r", event_name="pull_request", pr_number=3
)


@pytest.mark.parametrize(
    ("settings", "force", "expected", "reason"),
    [
        (ON_PR, None, True, "pull request event in GitHub Actions"),
        (ON_PR, False, False, "posting turned off"),
        (GitHubSettings(token="t", repository="o/r", pr_number=3), None, False, "not running"),
        (GitHubSettings(token="t", repository="o/r", pr_number=3), True, True, "posting forced"),
        (
            GitHubSettings(in_actions=True, token="t", repository="o/r", event_name="push"),
            None,
            False,
            "'push' is not a pull request",
        ),
        (
            GitHubSettings(
                in_actions=True, repository="o/r", event_name="pull_request", pr_number=3
            ),
            None,
            False,
            "without a token",
        ),
        (GitHubSettings(repository="o/r", pr_number=3), True, False, "without a token"),
    ],
)
def test_should_post(
    settings: GitHubSettings, force: bool | None, expected: bool, reason: str
) -> None:
    allowed, why = should_post(settings, force)
    assert allowed is expected
    assert reason in why


def rate_limited(status: int, message: str, headers: dict[str, str]) -> GithubException:
    return GithubException(status, {"message": message}, headers)


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (rate_limited(403, "You have exceeded a secondary rate limit", {"Retry-After": "7"}), 7.0),
        (rate_limited(429, "slow down", {"retry-after": "2"}), 2.0),
        # RFC 9110 allows an HTTP date: 1970-01-01 00:16:50 is 10 s after now=1000
        (rate_limited(429, "slow down", {"retry-after": "Thu, 01 Jan 1970 00:16:50 GMT"}), 10.0),
        (rate_limited(429, "slow down", {"retry-after": "soon"}), 60.0),
        (rate_limited(403, "You have exceeded a secondary rate limit", {}), 60.0),
        (
            rate_limited(
                403,
                "API rate limit exceeded",
                {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1030"},
            ),
            31.0,
        ),
        (rate_limited(403, "Resource not accessible by integration", {}), None),
        (rate_limited(500, "Server Error", {"Retry-After": "1"}), None),
        (ValueError("not from GitHub"), None),
    ],
)
def test_rate_limit_wait(error: Exception, wait: float | None) -> None:
    assert rate_limit_wait(error, now=1000.0) == wait
