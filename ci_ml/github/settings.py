"""Whether to post to GitHub at all. The settings themselves (`GitHubSettings`) are
read with the rest of the environment, in ci_ml/environment.py."""

from __future__ import annotations

from ci_ml.environment import DEFAULT_API_URL, PR_EVENTS, Environment, GitHubSettings
from ci_ml.errors import EnvironmentProblem

__all__ = ["DEFAULT_API_URL", "PR_EVENTS", "GitHubSettings", "check_can_post", "should_post"]


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


def check_can_post(env: Environment, force: bool | None = None) -> None:
    """Before any training: a pull request run that will post its report fails now
    (exit 3, naming the variable) when the event it posts to cannot be read. A run
    outside Actions, or with `--no-github`, is not looked at."""
    if force is False or not (force or env.in_actions):
        return
    settings = env.github  # an unreadable event file raises here, naming GITHUB_EVENT_PATH
    if settings.event_name in PR_EVENTS and settings.pr_number is None:
        raise EnvironmentProblem(
            f"GITHUB_EVENT_PATH is not set: a {settings.event_name} run reads the pull "
            "request's number from that event file to post its report (GitHub Actions "
            "sets it; pass --no-github to run without posting)"
        )
