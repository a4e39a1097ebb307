"""Whether to post to GitHub at all. The settings themselves (`GitHubSettings`) are
read with the rest of the environment, in ci_ml/environment.py."""

from __future__ import annotations

from ci_ml.environment import DEFAULT_API_URL, PR_EVENTS, GitHubSettings

__all__ = ["DEFAULT_API_URL", "PR_EVENTS", "GitHubSettings", "should_post"]


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
