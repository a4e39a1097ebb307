"""`ci-ml post-comment DIR`: post a fork PR's saved report from a workflow_run job."""

from __future__ import annotations

from pathlib import Path

from ci_ml.environment import Environment
from ci_ml.errors import ENVIRONMENT, PASSED
from ci_ml.github.publish import post_saved_comment
from ci_ml.rundir import RunDir
from ci_ml.workspace import say


def run(folder: str) -> int:
    """FOLDER is the saved comment's folder, or a run directory (artifact) holding it."""
    saved = Path(folder)
    if RunDir(saved).comment_dir.is_dir():
        saved = RunDir(saved).comment_dir
    result = post_saved_comment(Environment.from_os().github, saved)
    if not result.posted:
        say(f"post-comment: not posted: {result.reason}")
        return ENVIRONMENT
    action = result.comment.action if result.comment else "posted"
    say(f"post-comment: {action} the comment on the pull request")
    return PASSED
