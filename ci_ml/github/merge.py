"""promote-on-merge's GitHub side: the PR check's run, found from the status it set on
the PR's head commit; and one sticky note on the merged PR, never raising."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ci_ml.errors import EnvironmentProblem
from ci_ml.github.client import CallContext, ClientOptions, github_call, make_client
from ci_ml.github.comment import check_report_id, post_sticky_comment
from ci_ml.github.runner import annotation
from ci_ml.github.settings import GitHubSettings

if TYPE_CHECKING:
    from github.CommitStatus import CommitStatus
    from github.PaginatedList import PaginatedList
    from github.Repository import Repository


def note_on_pull_request(
    settings: GitHubSettings,
    pr_number: int,
    body: str,
    report_id: str,
    options: ClientOptions | None = None,
) -> bool:
    """Post (or edit) the promotion note on the PR; False, with a ::warning::, if GitHub
    refused. The promotion is done either way: the note must not undo or fail it."""
    context = CallContext.of(settings, options)
    try:
        repo = make_client(settings, context.options, lazy=True).get_repo(settings.repository)
        github_call(
            f"note the promotion on PR #{pr_number}",
            lambda: post_sticky_comment(
                repo, pr_number, body, f"{report_id}/promotion", author=settings.token_login
            ),
            context,
            "pull-requests: write",
        )
    except Exception as error:  # the note is best effort, like the PR check's comment
        print(annotation("warning", str(error), title="ci-ml"), file=sys.stderr, flush=True)
        return False
    return True


@dataclass(frozen=True)
class CheckRun:
    """The PR check that reported on a commit: its status and the run that set it."""

    state: str  # success, failure, error, pending
    run_id: str
    run_url: str
    description: str


_RUN = re.compile(r"/actions/runs/(\d+)")


def find_check(repo: Repository, sha: str, report_id: str, context: CallContext) -> CheckRun:
    """The newest `ci-ml/<report id>` status on `sha` and the run its link names."""
    wanted = f"ci-ml/{check_report_id(report_id)}"
    statuses = github_call(
        f"read the statuses of {sha[:12]}",
        lambda: next((s for s in _statuses(repo, sha) if s.context == wanted), None),
        context,
        "statuses: read",
    )
    if statuses is None:
        raise EnvironmentProblem(
            f"commit {sha[:12]} has no {wanted} status: the PR's ci-ml check never reported "
            "on its head commit; nothing promoted"
        )
    found = _RUN.search(statuses.target_url or "")
    if found is None:
        raise EnvironmentProblem(
            f"the {wanted} status on {sha[:12]} links no workflow run "
            f"({statuses.target_url or 'no link'}): cannot find the check's artifact"
        )
    return CheckRun(statuses.state, found.group(1), statuses.target_url, statuses.description or "")


def _statuses(repo: Repository, sha: str) -> PaginatedList[CommitStatus]:
    """Newest first, every page. PyGithub's Commit.get_statuses asks the legacy
    /statuses/{sha} path; this is the documented /commits/{sha}/statuses."""
    from github.CommitStatus import CommitStatus
    from github.PaginatedList import PaginatedList

    return PaginatedList(CommitStatus, repo.requester, f"{repo.url}/commits/{sha}/statuses", None)
