"""repository_dispatch: tell a repository's workflows that the champion changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.errors import EnvironmentProblem
from ci_ml.github.client import ClientOptions, describe_error, make_client, with_backoff

if TYPE_CHECKING:
    from ci_ml.environment import GitHubSettings

PERMISSION = "contents: write"  # GitHub's requirement for POST /repos/{repo}/dispatches


def send_dispatch(settings: GitHubSettings, event_type: str, payload: dict[str, Any]) -> None:
    """POST /repos/{repo}/dispatches; EnvironmentProblem with GitHub's answer on failure."""
    from github.GithubException import GithubException

    if not settings.repository:
        raise EnvironmentProblem("repository_dispatch: no repository; set GITHUB_REPOSITORY")
    client = make_client(settings, ClientOptions(retries=1, backoff_factor=0.5), lazy=True)
    try:
        repo = client.get_repo(settings.repository)  # lazy: no GET first
        body = {"event_type": event_type, "client_payload": payload}
        # Repository.create_repository_dispatch returns False on a 403 and drops GitHub's
        # message; the checked request raises it, so the message can name the permission.
        url = f"{repo.url}/dispatches"
        with_backoff(lambda: repo.requester.requestJsonAndCheck("POST", url, input=body))
    except GithubException as exc:
        why = describe_error(exc, PERMISSION, settings.event_name, settings.job)
        raise EnvironmentProblem(f"repository_dispatch to {settings.repository}: {why}") from exc
    except OSError as exc:
        raise EnvironmentProblem(f"repository_dispatch to {settings.repository}: {exc}") from exc
