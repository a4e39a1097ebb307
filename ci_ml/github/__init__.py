"""The GitHub edge: the only part of ci_ml that talks to GitHub.

    settings  what the Actions environment says, and whether to post
    client    the PyGithub client, retries, rate limits
    comment   the sticky PR comment and the commit status
    limits    comment and job summary size limits
    runner    step outputs, job summary, annotations, log groups (no network)
    publish   posting a report, never raising; a fork PR's saved comment
    plan      the pure posting plan for a finished report (outputs, summary,
              annotations, whether to post), and the step that carries it out
    releases  releases, assets and git data for the github-releases registry

PyGithub (and urllib3) are imported inside the functions that use them so
`ci-ml --help` stays fast. Posting is best effort: `publish` never raises for a
failed post, because the verdict and exit code must not depend on whether
GitHub accepted a comment.
"""

from __future__ import annotations

from ci_ml.github.client import ClientOptions, GitHubCallFailed, make_client, rate_limit_wait
from ci_ml.github.comment import post_sticky_comment
from ci_ml.github.limits import COMMENT_LIMIT, fit_to_limit, truncation_note, utf8_len
from ci_ml.github.publish import post_saved_comment, publish
from ci_ml.github.releases import ReleaseInfo, ReleaseStore
from ci_ml.github.runner import SUMMARY_LIMIT, annotation, append_summary, group, write_outputs
from ci_ml.github.settings import GitHubSettings, should_post

# What code outside this package uses; everything else is imported from its module.
__all__ = [
    "COMMENT_LIMIT",
    "SUMMARY_LIMIT",
    "ClientOptions",
    "GitHubCallFailed",
    "GitHubSettings",
    "ReleaseInfo",
    "ReleaseStore",
    "annotation",
    "append_summary",
    "fit_to_limit",
    "group",
    "make_client",
    "post_saved_comment",
    "post_sticky_comment",
    "publish",
    "rate_limit_wait",
    "should_post",
    "truncation_note",
    "utf8_len",
    "write_outputs",
]
