"""One issue per subject, opened by ci-ml and found again by a hidden marker.

A retrain that failed, or a retrain pull request GitHub refused to open, is told in
one open issue: the first time it is opened, every later time it gets a comment (so
its subscribers hear of it). Only an issue ci-ml's own identity wrote (the token's
login, as for the sticky PR comment) counts: nobody else's issue is touched, whatever
it quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ci_ml.errors import ConfigError
from ci_ml.github.client import CallContext, github_call
from ci_ml.github.comment import token_login
from ci_ml.github.limits import COMMENT_LIMIT, fit_to_limit

if TYPE_CHECKING:
    from github.Issue import Issue
    from github.Repository import Repository

ISSUES_WRITE, ISSUES_READ = "issues: write", "issues: read"
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


@dataclass(frozen=True)
class IssueNote:
    """What to say: `subject` names the issue (its marker), `label` files it."""

    subject: str
    title: str
    body: str
    label: str


@dataclass(frozen=True)
class IssueResult:
    action: Literal["opened", "commented"]
    number: int
    url: str


def issue_marker(subject: str) -> str:
    if not _SUBJECT.match(subject):
        raise ConfigError(
            f"issue subject: expected letters, digits, '.', '_', '-' or '/', found {subject!r}"
        )
    return f"<!-- ci-ml issue: {subject} -->"


def open_or_comment(repo: Repository, note: IssueNote, context: CallContext) -> IssueResult:
    """Comment on the open issue ci-ml wrote for `note.subject`, or open it."""
    marker = issue_marker(note.subject)
    body = fit_to_limit(note.body, COMMENT_LIMIT - len(marker) - 1)
    author = github_call(
        "read the token's login", lambda: token_login(repo, context.token_login), context, ""
    )
    found = github_call(
        "list open issues",
        lambda: _marked_issue(repo, note.label, marker, author),
        context,
        ISSUES_READ,
    )
    if found is None:
        issue = github_call(
            f"open the issue {note.title!r}",
            lambda: repo.create_issue(note.title, f"{marker}\n{body}", labels=[note.label]),
            context,
            ISSUES_WRITE,
        )
        return IssueResult("opened", issue.number, issue.html_url)
    github_call(
        f"comment on issue #{found.number}",
        lambda: found.create_comment(body),
        context,
        ISSUES_WRITE,
    )
    return IssueResult("commented", found.number, found.html_url)


def _marked_issue(repo: Repository, label: str, marker: str, author: str) -> Issue | None:
    # The label narrows the listing (pages of 100); the marker and the author decide.
    # Two runs racing may both have opened one: the oldest is the one.
    mine = [i for i in repo.get_issues(state="open", labels=[label]) if _is(i, marker, author)]
    return min(mine, key=lambda i: i.number, default=None)


def _is(issue: Issue, marker: str, author: str) -> bool:
    user = issue.user
    by_author = user is not None and user.login == author
    return by_author and issue.pull_request is None and (issue.body or "").startswith(marker)
