"""What ci-ml needs from the Actions environment, and whether to post at all."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci_ml.errors import EnvironmentProblem

DEFAULT_API_URL = "https://api.github.com"
PR_EVENTS = ("pull_request", "pull_request_target")


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubSettings:
    """What ci-ml needs from the Actions environment. The token never shows in repr."""

    in_actions: bool = False
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)
    repository: str = ""  # owner/name
    event_name: str = ""
    pr_number: int | None = None
    head_sha: str = ""  # PR head, or workflow_run head: GITHUB_SHA is a merge commit there
    server_url: str = "https://github.com"
    run_id: str = ""
    output_path: Path | None = None
    summary_path: Path | None = None

    @property
    def run_url(self) -> str:
        if not (self.run_id and self.repository):
            return ""
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, token: str | None = None
    ) -> GitHubSettings:
        """Read the runner's variables (default: the process's, through ci_ml.environment);
        `token` wins over INPUT_GITHUB-TOKEN and GITHUB_TOKEN."""
        if env is None:
            from ci_ml.environment import current

            env = current().variables
        event_name = env.get("GITHUB_EVENT_NAME", "")
        pr_number, head_sha = _event_refs(event_name, env.get("GITHUB_EVENT_PATH", ""))
        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            token=token or _token_from(env),
            repository=env.get("GITHUB_REPOSITORY", ""),
            event_name=event_name,
            pr_number=pr_number,
            head_sha=head_sha or env.get("GITHUB_SHA", ""),
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
            output_path=_path_or_none(env.get("GITHUB_OUTPUT")),
            summary_path=_path_or_none(env.get("GITHUB_STEP_SUMMARY")),
        )


def _token_from(env: Mapping[str, str]) -> str:
    # Actions turns input `github-token` into INPUT_GITHUB-TOKEN (hyphen kept).
    for name in ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN"):
        if env.get(name):
            return env[name]
    return ""


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _event_refs(event_name: str, event_path: str) -> tuple[int | None, str]:
    """(PR number, head sha) from a pull_request(_target) or workflow_run event payload."""
    if event_name not in (*PR_EVENTS, "workflow_run") or not event_path:
        return None, ""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        if event_name == "workflow_run":
            return None, str(event["workflow_run"]["head_sha"])
        pull = event["pull_request"]
        return int(pull["number"]), str(pull["head"]["sha"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EnvironmentProblem(
            f"GITHUB_EVENT_PATH {event_path}: expected a {event_name} event JSON with the "
            f"pull request number and head sha, found an unreadable file "
            f"({type(e).__name__}: {e})"
        ) from e


def should_post(settings: GitHubSettings, force: bool | None = None) -> tuple[bool, str]:
    """Whether to post to the PR, and why. `force` overrides the Actions and event checks."""
    if force is False:
        return False, "posting turned off"
    if not force and not settings.in_actions:
        return False, "not running in GitHub Actions"
    if not force and settings.event_name not in PR_EVENTS:
        return False, f"event {settings.event_name or '(none)'!r} is not a pull request"
    missing = _missing_for_posting(settings)
    if missing:
        return False, "cannot post without " + ", ".join(missing)
    return True, "posting forced" if force else "pull request event in GitHub Actions"


def _missing_for_posting(settings: GitHubSettings) -> list[str]:
    needed = {
        "a token": settings.token,
        "GITHUB_REPOSITORY": settings.repository,
        "a pull request number": settings.pr_number,
    }
    return [name for name, value in needed.items() if not value]
