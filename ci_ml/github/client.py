"""The PyGithub client: retries of 5xx, backoff on (secondary) rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ci_ml.errors import EnvironmentProblem

if TYPE_CHECKING:
    from github import Github
    from urllib3.util.retry import Retry

from ci_ml.github.settings import GitHubSettings

T = TypeVar("T")


# -- client, retries, rate limits ------------------------------------------------------


@dataclass(frozen=True)
class ClientOptions:
    """Retry and pacing knobs; the defaults suit github.com, tests shrink them."""

    retries: int = 3  # urllib3 retries of 5xx answers and dropped connections
    backoff_factor: float = 1.0
    rate_limit_tries: int = 3  # our own tries on a (secondary) rate limit
    max_wait: float = 60.0  # seconds, total, we sleep for rate limits; caps one Retry-After
    timeout: int = 15  # seconds to connect, and of silence, on every connection
    transfer_deadline: float = 1800.0  # seconds one asset upload or download may take
    per_page: int = 100
    seconds_between_requests: float | None = 0.25
    seconds_between_writes: float | None = 1.0  # GitHub asks for 1 s between writes


def make_retry(options: ClientOptions) -> Retry:
    """A urllib3 Retry for 5xx and dropped connections, honouring a capped Retry-After."""
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def __init__(self, max_retry_after: float = 60.0, **kwargs: Any) -> None:
            self.max_retry_after = max_retry_after
            super().__init__(**kwargs)

        def new(self, **kwargs: Any) -> CappedRetry:
            return super().new(max_retry_after=self.max_retry_after, **kwargs)

        def get_retry_after(self, response: Any) -> float | None:
            seconds = super().get_retry_after(response)
            return None if seconds is None else min(seconds, self.max_retry_after)

    # POST is retried too: a duplicate comment is cleaned up after creating.
    return CappedRetry(
        max_retry_after=options.max_wait,
        total=options.retries,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}),
        backoff_factor=options.backoff_factor,
        backoff_max=options.max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 5xx reaches PyGithub and becomes a GithubException
    )


def make_client(
    settings: GitHubSettings, options: ClientOptions | None = None, lazy: bool = False
) -> Github:
    """A PyGithub client for settings.api_url (github.com or an Enterprise /api/v3).

    `lazy` objects fetch nothing until an attribute is read: fewer requests."""
    from github import Auth, Github

    if not settings.token:
        raise EnvironmentProblem(
            "no GitHub token: pass the action's github-token input or set GITHUB_TOKEN"
        )
    options = options or ClientOptions()
    return Github(
        base_url=settings.api_url.rstrip("/"),
        auth=Auth.Token(settings.token),
        retry=make_retry(options),
        timeout=options.timeout,
        per_page=options.per_page,
        seconds_between_requests=options.seconds_between_requests,
        seconds_between_writes=options.seconds_between_writes,
        lazy=lazy,
    )


def rate_limit_wait(error: Exception, now: float | None = None) -> float | None:
    """Seconds GitHub asks us to wait before retrying, or None if `error` is no rate limit."""
    from github.GithubException import GithubException

    if not isinstance(error, GithubException) or error.status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    message = str((error.data or {}).get("message", "") if isinstance(error.data, dict) else "")
    if "retry-after" in headers:
        return _seconds_from_retry_after(headers["retry-after"], now)
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        reset = float(headers["x-ratelimit-reset"]) - (time.time() if now is None else now)
        return max(reset, 0.0) + 1.0
    if "rate limit" in message.lower():
        return 60.0  # GitHub's advice when it gives no header: wait at least a minute
    return None


def _seconds_from_retry_after(value: str, now: float | None) -> float:
    if value.strip().isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime  # an HTTP date: rare, and email is not light

    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 60.0
    return max(moment - (time.time() if now is None else now), 0.0)


def with_backoff(call: Callable[[], T], options: ClientOptions | None = None) -> T:
    """Run `call`, waiting out rate limits as GitHub asks, within options' tries and max_wait."""
    options = options or ClientOptions()
    waited = 0.0
    for attempt in range(1, options.rate_limit_tries + 1):
        try:
            return call()
        except Exception as error:
            wait = rate_limit_wait(error)
            last = attempt == options.rate_limit_tries
            if wait is None or last or waited + wait > options.max_wait:
                raise
            time.sleep(wait)
            waited += wait
    raise AssertionError("unreachable: the loop returns or raises")


class GitHubCallFailed(EnvironmentProblem):
    """A GitHub API call failed; `status` is the HTTP status, None when no answer came;
    `reason` is GitHub's own message ("Reference already exists")."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CallContext:
    """What a failed call's message needs: the pacing options, the token to redact and
    the event (a fork's pull request explains a 403)."""

    options: ClientOptions
    token: str = ""
    event_name: str = ""
    job: str = ""
    token_login: str = ""  # who the token writes as, when known (see comment.token_login)

    @classmethod
    def of(cls, settings: GitHubSettings, options: ClientOptions | None = None) -> CallContext:
        return cls(
            options or ClientOptions(),
            settings.token,
            settings.event_name,
            settings.job,
            settings.token_login,
        )


def github_call(what: str, action: Callable[[], T], context: CallContext, permission: str) -> T:
    """Run `action`, waiting out rate limits; any failure becomes GitHubCallFailed (exit 3)
    naming what was being done, GitHub's answer and the permission, the token redacted."""
    from github.GithubException import GithubException

    try:
        return with_backoff(action, context.options)
    except GithubException as error:
        why = describe_error(error, permission, context.event_name, context.job)
        text = f"GitHub: could not {what}: {why}"
        raise GitHubCallFailed(
            redact(text, context.token), error.status, github_message(error)
        ) from error
    except EnvironmentProblem:
        raise
    except Exception as error:  # requests, urllib3, sockets, PyGithub's own asserts
        text = f"GitHub: could not {what}: {type(error).__name__}: {error}"
        raise GitHubCallFailed(redact(text, context.token)) from error


def redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


# -- what went wrong, in words a user can act on -------------------------------------------

NOT_ACCESSIBLE = "Resource not accessible by integration"


def github_message(error: Exception) -> str:
    """GitHub's own `message` of a failed call ("" when it gave none)."""
    data = getattr(error, "data", None)
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def describe_error(
    error: Exception, permission: str | None = None, event_name: str = "", job: str = ""
) -> str:
    """One line: the status, GitHub's message and what to change (permission, token, limit)."""
    from github.GithubException import GithubException

    if not isinstance(error, GithubException):
        return f"{type(error).__name__}: {error}"
    text = f"GitHub answered {error.status}: {github_message(error) or error.message or ''}"
    return (text.strip() + _advice(error, permission, event_name, job)).strip()


def _advice(error: Exception, permission: str | None, event_name: str, job: str) -> str:
    status = getattr(error, "status", None)
    if status == 401:
        return " (the token is expired, revoked or malformed: pass a valid github-token)"
    if status in (403, 429) and rate_limit_wait(error) is not None:
        return _rate_limit_advice(error)
    if status == 403 and permission:
        text = f" (the token lacks `{permission}`: add `permissions: {permission}` to job "
        text += job or "this job"
        if event_name in ("pull_request", "pull_request_target"):
            text += "; a pull request from a fork always gets a read-only token"
        return text + ")"
    if status == 404:
        return " (no such repository or object, or the token cannot see it)"
    return ""


def _rate_limit_advice(error: Exception) -> str:
    headers = {k.lower(): v for k, v in (getattr(error, "headers", None) or {}).items()}
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        moment = time.strftime("%H:%M:%S UTC", time.gmtime(int(reset)))
        return f" (API rate limit exhausted; it resets at {moment})"
    return " (secondary rate limit: too many requests too fast; try again in a few minutes)"
