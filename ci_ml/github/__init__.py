"""The GitHub edge: the only part of ci_ml that talks to GitHub.

    settings  what the Actions environment says, and whether to post
    client    the PyGithub client, retries, rate limits
    comment   the sticky PR comment and the commit status
    limits    comment and job summary size limits
    runner    step outputs, job summary, annotations, log groups (no network)
    publish   posting a report, never raising; a fork PR's saved comment
    releases  releases, assets and git data for the github-releases registry

PyGithub (and urllib3) are imported inside the functions that use them so
`ci-ml --help` stays fast. Posting is best effort: `publish` never raises for a
failed post, because the verdict and exit code must not depend on whether
GitHub accepted a comment.
"""

from __future__ import annotations

from ci_ml.github.client import (
    ClientOptions,
    make_client,
    make_retry,
    rate_limit_wait,
    with_backoff,
)
from ci_ml.github.comment import (
    COMMENT_MODES,
    STATUS_DESCRIPTION_LIMIT,
    STATUS_DESCRIPTIONS,
    STATUS_STATES,
    CommentAction,
    CommentMode,
    CommentResult,
    check_comment_mode,
    check_report_id,
    comment_marker,
    post_sticky_comment,
    set_commit_status,
    status_state,
)
from ci_ml.github.limits import (
    COMMENT_LIMIT,
    DEFAULT_POINTER,
    fit_to_limit,
    truncation_note,
    utf8_len,
)
from ci_ml.github.publish import (
    PublishResult,
    SavedComment,
    load_saved_comment,
    post_saved_comment,
    publish,
)
from ci_ml.github.releases import (
    AssetInfo,
    GitHubCallFailed,
    ReleaseInfo,
    ReleaseStore,
)
from ci_ml.github.runner import (
    SUMMARY_LIMIT,
    annotation,
    append_summary,
    group,
    write_outputs,
)
from ci_ml.github.settings import (
    DEFAULT_API_URL,
    PR_EVENTS,
    GitHubSettings,
    should_post,
)

__all__ = [
    "COMMENT_LIMIT",
    "COMMENT_MODES",
    "DEFAULT_API_URL",
    "DEFAULT_POINTER",
    "PR_EVENTS",
    "STATUS_DESCRIPTIONS",
    "STATUS_DESCRIPTION_LIMIT",
    "STATUS_STATES",
    "SUMMARY_LIMIT",
    "AssetInfo",
    "ClientOptions",
    "CommentAction",
    "CommentMode",
    "CommentResult",
    "GitHubCallFailed",
    "GitHubSettings",
    "PublishResult",
    "ReleaseInfo",
    "ReleaseStore",
    "SavedComment",
    "annotation",
    "append_summary",
    "check_comment_mode",
    "check_report_id",
    "comment_marker",
    "fit_to_limit",
    "group",
    "load_saved_comment",
    "make_client",
    "make_retry",
    "post_saved_comment",
    "post_sticky_comment",
    "publish",
    "rate_limit_wait",
    "set_commit_status",
    "should_post",
    "status_state",
    "truncation_note",
    "utf8_len",
    "with_backoff",
    "write_outputs",
]
