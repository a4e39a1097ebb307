"""`ci-ml failure-issue`: open (or comment on) the one issue for failed retraining runs."""

from __future__ import annotations

from ci_ml.environment import Environment
from ci_ml.errors import PASSED, EnvironmentProblem
from ci_ml.github.client import CallContext, ClientOptions, make_client
from ci_ml.github.issues import open_or_comment
from ci_ml.github.retrain import failure_note
from ci_ml.workspace import say


def run(
    what: str = "", env: Environment | None = None, options: ClientOptions | None = None
) -> int:
    env = env or Environment.from_os()
    settings = env.github
    if not settings.repository:
        raise EnvironmentProblem("failure-issue: GITHUB_REPOSITORY is not set (owner/name)")
    context = CallContext.of(settings, options)
    repo = make_client(settings, context.options, lazy=True).get_repo(settings.repository)
    result = open_or_comment(repo, failure_note(settings.run_url, what), context)
    say(f"failure-issue: {result.action} issue #{result.number} ({result.url})")
    return PASSED
