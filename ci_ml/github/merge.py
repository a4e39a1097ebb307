"""What promote-on-merge says on the merged PR: one sticky note, never raising."""

from __future__ import annotations

import sys

from ci_ml.github.client import CallContext, ClientOptions, github_call, make_client
from ci_ml.github.comment import post_sticky_comment
from ci_ml.github.runner import annotation
from ci_ml.github.settings import GitHubSettings


def note_on_pull_request(
    settings: GitHubSettings,
    pr_number: int,
    body: str,
    report_id: str,
    options: ClientOptions | None = None,
) -> bool:
    """Post (or edit) the promotion note on the PR; False, with a ::warning::, if GitHub
    refused. The promotion is done either way: the note must not undo or fail it."""
    context = CallContext(options or ClientOptions(), settings.token, settings.event_name)
    try:
        repo = make_client(settings, context.options, lazy=True).get_repo(settings.repository)
        github_call(
            f"note the promotion on PR #{pr_number}",
            lambda: post_sticky_comment(repo, pr_number, body, f"{report_id}/promotion"),
            context,
            "pull-requests: write",
        )
    except Exception as error:  # the note is best effort, like the PR check's comment
        print(annotation("warning", str(error), title="ci-ml"), file=sys.stderr, flush=True)
        return False
    return True
