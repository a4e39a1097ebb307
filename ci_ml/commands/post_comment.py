"""`ci-ml post-comment DIR`: post a fork PR's saved report from a workflow_run job."""

from __future__ import annotations

from ci_ml import github
from ci_ml.errors import ENVIRONMENT, PASSED
from ci_ml.workspace import say


def run(folder: str) -> int:
    settings = github.GitHubSettings.from_env()
    result = github.post_saved_comment(settings, folder)
    if not result.posted:
        say(f"post-comment: not posted: {result.reason}")
        return ENVIRONMENT
    action = result.comment.action if result.comment else "posted"
    say(f"post-comment: {action} the comment on the pull request")
    return PASSED
