"""The sticky PR comment (found again by a hidden marker) and the commit status."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from github.IssueComment import IssueComment
    from github.Repository import Repository


STATUS_DESCRIPTION_LIMIT = 140
COMMENT_MODES = ("update", "recreate", "off")
CommentMode = Literal["update", "recreate", "off"]
CommentAction = Literal["created", "updated", "recreated", "skipped"]
STATUS_STATES = {"promote": "success", "block": "failure", "invalid-data": "failure"}
STATUS_DESCRIPTIONS = {
    "promote": "Gate passed: the challenger is promoted",
    "block": "Gate blocked the challenger",
    "invalid-data": "The data failed validation",
}
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
# Who the job's own GITHUB_TOKEN writes as (the action says so in CI_ML_TOKEN_LOGIN).
ACTIONS_BOT = "github-actions[bot]"
# GraphQL's `viewer` answers for every kind of token: a person's, GITHUB_TOKEN and a GitHub
# App's installation token (`<app-slug>[bot]`), which GET /user refuses with 403.
VIEWER_QUERY = "query { viewer { login } }"


# -- sticky comment --------------------------------------------------------------------


@dataclass(frozen=True)
class CommentResult:
    action: CommentAction
    comment_id: int | None = None
    url: str | None = None
    duplicates_deleted: int = 0


def check_report_id(report_id: str) -> str:
    # The id goes inside an HTML comment and a status context: keep it plain.
    if not _REPORT_ID.match(report_id):
        raise ConfigError(
            f"report id: expected letters, digits, '.', '_', '-' or '/' (at most 100), "
            f"found {report_id!r}"
        )
    return report_id


def check_comment_mode(mode: str) -> CommentMode:
    if mode not in COMMENT_MODES:
        raise ConfigError(
            f"comment mode: expected one of {', '.join(COMMENT_MODES)}, found {mode!r}"
        )
    return mode  # type: ignore[return-value]


def comment_marker(report_id: str) -> str:
    return f"<!-- ci-ml report: {check_report_id(report_id)} -->"


def token_login(repo: Repository, known: str = "") -> str:
    """The login the token writes comments as: `known` when the caller was told (the
    action, handed the job's GITHUB_TOKEN, says github-actions[bot]; a user may name an
    app's `<slug>[bot]`), else asked of GitHub in one request. An installation token's
    prefix (`ghs_`) cannot tell GITHUB_TOKEN from a GitHub App's token, nor which app."""
    if known:
        return known
    if _installation_token(repo):
        return _viewer_login(repo)
    from github.GithubException import GithubException

    try:
        _, data = repo.requester.requestJsonAndCheck("GET", "/user")
    except GithubException as error:
        if error.status in (403, 404):  # an installation token with another prefix
            return _viewer_login(repo)
        raise
    return str(data["login"])


def _viewer_login(repo: Repository) -> str:
    _, data = repo.requester.graphql_query(VIEWER_QUERY, {})
    return str(data["data"]["viewer"]["login"])


def _installation_token(repo: Repository) -> bool:
    # GitHub's token formats: `ghs_` is an installation token (GITHUB_TOKEN, an app's).
    auth = getattr(repo.requester, "auth", None)
    return str(getattr(auth, "token", "")).startswith("ghs_")


def post_sticky_comment(
    repo: Repository,
    pr_number: int,
    body: str,
    report_id: str,
    mode: str = "update",
    author: str | None = None,
) -> CommentResult:
    """Keep exactly one comment per report on the PR, found again by its hidden marker
    among the comments `author` (default: the token's own login, see token_login) wrote.
    Nobody else's comment is edited or deleted, whatever it quotes."""
    if check_comment_mode(mode) == "off":
        return CommentResult("skipped")
    text = f"{comment_marker(report_id)}\n{body}"
    issue = repo.get_issue(pr_number)
    marker = _Marker(comment_marker(report_id), token_login(repo, author or ""))
    existing = _marked_comments(issue.get_comments(), marker)
    if mode == "recreate":
        for comment in existing:
            _delete(comment)
        created, removed = _create_once(issue, text, marker)
        action: CommentAction = "recreated" if existing else "created"
        return CommentResult(action, created.id, created.html_url, removed)
    if not existing:
        created, removed = _create_once(issue, text, marker)
        return CommentResult("created", created.id, created.html_url, removed)
    kept = _keep_oldest(existing, text)
    return CommentResult("updated", kept.id, kept.html_url, len(existing) - 1)


@dataclass(frozen=True)
class _Marker:
    text: str
    author: str


def _marked_comments(comments: Any, marker: _Marker) -> list[IssueComment]:
    # Iterating the PaginatedList follows every page, so a marker on page 5 is found.
    found = [c for c in comments if marker.text in (c.body or "") and _by(c, marker.author)]
    return sorted(found, key=lambda c: (c.created_at, c.id))


def _keep_oldest(marked: list[IssueComment], text: str) -> IssueComment:
    kept, *newer = marked
    for comment in newer:
        _delete(comment)
    if kept.body != text:
        kept.edit(text)
    return kept


def _by(comment: IssueComment, login: str) -> bool:
    user = comment.user
    return user is not None and user.login == login


def _create_once(issue: Any, text: str, marker: _Marker) -> tuple[IssueComment, int]:
    created = issue.create_comment(text)
    # A retried POST or a concurrent run may have posted a twin meanwhile: keep the oldest.
    marked = _marked_comments(issue.get_comments(), marker)
    if not marked:
        return created, 0
    return _keep_oldest(marked, text), len(marked) - 1


def _delete(comment: IssueComment) -> None:
    from github.GithubException import UnknownObjectException

    with contextlib.suppress(UnknownObjectException):  # a concurrent run was first: fine
        comment.delete()


# -- commit status ----------------------------------------------------------------------


def status_state(verdict: str) -> str:
    return STATUS_STATES.get(verdict, "error")


def set_commit_status(
    repo: Repository,
    sha: str,
    report_id: str,
    verdict: str,
    target_url: str = "",
    description: str | None = None,
) -> str:
    """Set status `ci-ml/<report-id>` on `sha` from the verdict; returns the state set."""
    from github.GithubObject import NotSet

    state = status_state(verdict)
    text = description or STATUS_DESCRIPTIONS.get(verdict, f"ci-ml could not decide ({verdict})")
    repo.get_commit(sha).create_status(
        state=state,
        target_url=target_url or NotSet,
        description=_clip(text, STATUS_DESCRIPTION_LIMIT),
        context=f"ci-ml/{check_report_id(report_id)}",
    )
    return state


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
