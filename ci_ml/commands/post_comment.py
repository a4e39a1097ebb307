"""`ci-ml post-comment DIR`: post a fork PR's saved report from a workflow_run job."""

from __future__ import annotations

from pathlib import Path

from ci_ml import github
from ci_ml.errors import ENVIRONMENT, PASSED
from ci_ml.publishing import COMMENT_DIR
from ci_ml.workspace import say


def run(folder: str) -> int:
    """FOLDER is the saved comment's folder, or a run directory (artifact) holding it."""
    settings = github.GitHubSettings.from_env()
    saved = Path(folder)
    if not (saved / "comment.md").is_file() and (saved / COMMENT_DIR / "comment.md").is_file():
        saved = saved / COMMENT_DIR
    result = github.post_saved_comment(settings, saved)
    if not result.posted:
        say(f"post-comment: not posted: {result.reason}")
        return ENVIRONMENT
    action = result.comment.action if result.comment else "posted"
    say(f"post-comment: {action} the comment on the pull request")
    return PASSED
