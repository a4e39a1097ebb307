"""The weekly retrain's pull request: a branch with the model card and the report.

When GitHub refuses GITHUB_TOKEN the pull request (the repository setting that lets
Actions open pull requests is off, as on every new repository), the run says so in
one issue instead, linking the retrained model's report and the artifact that keeps
the model: nothing is lost, and the issue names the setting to turn on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ci_ml.github.client import CallContext, GitHubCallFailed, github_call
from ci_ml.github.issues import IssueNote, IssueResult, open_or_comment
from ci_ml.github.limits import COMMENT_LIMIT, fit_to_limit
from ci_ml.github.releases import unless_refused

if TYPE_CHECKING:
    from github.Repository import Repository

PR_REFUSED = "not permitted to create or approve pull requests"
PR_SETTING = (
    'Settings > Actions > General > Workflow permissions > "Allow GitHub Actions '
    'to create and approve pull requests"'
)
REFUSED_LABEL = "ci-ml-retrain"
CONTENTS_WRITE, PULLS_WRITE, PULLS_READ = (
    "contents: write",
    "pull-requests: write",
    "pull-requests: read",
)


@dataclass(frozen=True)
class RetrainProposal:
    """A retrained challenger that passed the gate, to be reviewed as a pull request."""

    name: str  # the model's name (report.json `name`)
    reason: str  # the gate's one line
    data_hash: str
    base: str  # the branch the retrain ran on
    head_sha: str  # the commit the retrain ran on: the new branch starts there
    files: Mapping[str, bytes]  # path in the repository -> content
    report_markdown: str
    run_url: str = ""
    artifact_url: str = ""  # where the run's challenger and report are kept

    @property
    def branch(self) -> str:
        return f"ci-ml/retrain-{self.name}-{self.data_hash[:12]}"


@dataclass(frozen=True)
class ProposalResult:
    action: Literal["opened", "exists", "refused"]
    number: int  # the pull request's, or (refused) the issue's
    url: str
    issue: IssueResult | None = None


def propose_retrain(
    repo: Repository, proposal: RetrainProposal, context: CallContext
) -> ProposalResult:
    """Open the pull request once per data: an open one for the same branch is kept."""
    existing = _open_pull(repo, proposal, context)
    if existing is not None:
        return existing
    _branch_with_files(repo, proposal, context)
    try:
        pull = github_call(
            "open the pull request",
            lambda: repo.create_pull(
                base=proposal.base,
                head=proposal.branch,
                title=f"ci-ml: promote the retrained {proposal.name} ({proposal.reason})",
                body=_pull_body(proposal),
            ),
            context,
            PULLS_WRITE,
        )
    except GitHubCallFailed as error:
        if error.status != 403 or PR_REFUSED not in error.reason:
            raise
        issue = open_or_comment(repo, refusal_note(proposal), context)
        return ProposalResult("refused", issue.number, issue.url, issue)
    return ProposalResult("opened", pull.number, pull.html_url)


def _open_pull(
    repo: Repository, proposal: RetrainProposal, context: CallContext
) -> ProposalResult | None:
    head = f"{repo.full_name.split('/')[0]}:{proposal.branch}"
    pulls = github_call(
        "list open pull requests",
        lambda: list(repo.get_pulls(state="open", head=head)),
        context,
        PULLS_READ,
    )
    return ProposalResult("exists", pulls[0].number, pulls[0].html_url) if pulls else None


def _branch_with_files(repo: Repository, proposal: RetrainProposal, context: CallContext) -> None:
    # A branch left by an earlier try (422 "Reference already exists") is reused.
    ref = f"refs/heads/{proposal.branch}"
    unless_refused(
        f"create branch {proposal.branch}",
        lambda: repo.create_git_ref(ref, proposal.head_sha),
        context,
    )
    for path, content in proposal.files.items():
        _write_file(repo, proposal, path, content, context)


def _write_file(
    repo: Repository, proposal: RetrainProposal, path: str, content: bytes, context: CallContext
) -> None:
    from github.GithubException import UnknownObjectException

    message = f"ci-ml: {proposal.name} retrained on new data"
    branch = proposal.branch

    def write() -> object:
        try:
            existing = repo.get_contents(path, ref=branch)
        except UnknownObjectException:
            return repo.create_file(path, message, content, branch=branch)
        if isinstance(existing, list) or existing.decoded_content == content:
            return existing
        return repo.update_file(path, message, content, existing.sha, branch=branch)

    github_call(f"write {path} on {branch}", write, context, CONTENTS_WRITE)


def _pull_body(proposal: RetrainProposal) -> str:
    intro = "Retrained by the weekly ci-ml run. Review the report, then merge."
    if proposal.run_url:
        intro += f" ([run]({proposal.run_url}))"
    return fit_to_limit(f"{intro}\n\n{proposal.report_markdown}", COMMENT_LIMIT)


def refusal_note(proposal: RetrainProposal) -> IssueNote:
    """The issue that explains the setting and points at the kept model and its report."""
    kept = proposal.artifact_url or proposal.run_url or "the run's `ci-ml-run` artifact"
    lines = [
        f"The weekly ci-ml run retrained **{proposal.name}** and the challenger passed the "
        f"gate ({proposal.reason}), but GitHub refused to open its pull request: GitHub "
        "Actions is not permitted to create pull requests in this repository.",
        "",
        f"To let it, turn on {PR_SETTING}, then re-run the workflow. Until then nothing is "
        f"lost: the branch `{proposal.branch}` holds the model card and the report, and the "
        f"retrained model with its report is kept as the `ci-ml-run` artifact: {kept}",
        "",
        f"Run: {proposal.run_url or '(not in GitHub Actions)'} · data {proposal.data_hash[:12]}",
        "",
        "<details><summary>The report</summary>",
        "",
        proposal.report_markdown,
        "",
        "</details>",
    ]
    return IssueNote(
        subject="retrain-pr-refused/" + re.sub(r"[^A-Za-z0-9._-]", "-", proposal.name)[:80],
        title=f"ci-ml: the retrained {proposal.name} is waiting for a pull request",
        body="\n".join(lines),
        label=REFUSED_LABEL,
    )


FAILURE_LABEL = "ci-ml-retrain-failure"


def failure_note(run_url: str, what: str = "") -> IssueNote:
    """The one issue that collects failed retraining runs."""
    text = f"The weekly ci-ml retrain failed: {run_url or '(no run link)'}"
    return IssueNote(
        subject="retrain-failure",
        title="ci-ml weekly retrain failed",
        body=text + (f"\n\n{what}" if what else ""),
        label=FAILURE_LABEL,
    )
