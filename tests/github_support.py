"""Helpers for tests of ci_ml.github against the fake server."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ci_ml.github import ClientOptions, GitHubSettings, make_client
from tests.fakegithub import FakeGitHub

TOKEN = "ghs_FAKEtoken0123456789abcdefSECRET"
REPO = "octo/demo"
HEAD_SHA = "c0ffee" + "0" * 34

# No pacing, no backoff sleeps, short rate-limit budget: tests stay fast.
FAST = ClientOptions(
    backoff_factor=0,
    max_wait=3.0,
    timeout=5,
    seconds_between_requests=None,
    seconds_between_writes=None,
)


def open_pr(fake: FakeGitHub) -> int:
    return fake.state.add_pull(REPO, head_sha=HEAD_SHA)


def settings_for(fake: FakeGitHub, pr_number: int | None, **changes: Any) -> GitHubSettings:
    """Settings as the runner would give them on a pull_request event."""
    base = GitHubSettings(
        in_actions=True,
        api_url=fake.url,
        token=TOKEN,
        repository=REPO,
        event_name="pull_request",
        pr_number=pr_number,
        head_sha=HEAD_SHA,
        server_url="https://github.invalid",
        run_id="4242",
    )
    return replace(base, **changes)


def repo_of(fake: FakeGitHub, options: ClientOptions = FAST) -> Any:
    """A real PyGithub Repository object talking to the fake."""
    return make_client(settings_for(fake, None), options, lazy=True).get_repo(REPO)


def marked(fake: FakeGitHub, pr_number: int, report_id: str = "model") -> list[dict[str, Any]]:
    marker = f"<!-- ci-ml report: {report_id} -->"
    return [c for c in fake.state.comments(REPO, pr_number) if marker in c["body"]]
