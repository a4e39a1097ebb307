"""`ci-ml find-check SHA`: the PR check run that gated a commit (for promote-on-merge)."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.github.client import CallContext, ClientOptions, make_client
from ci_ml.github.merge import find_check
from ci_ml.github.runner import write_outputs
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, sha: str, options: ClientOptions | None = None) -> int:
    """Outputs run-id and run-url; exit 1 when that check did not pass."""
    settings = ws.env.github
    context = CallContext.of(settings, options)
    repo = make_client(settings, context.options, lazy=True).get_repo(settings.repository)
    check = find_check(repo, sha, ws.config.report_id, context)
    if ws.env.output_path:
        write_outputs(ws.env.output_path, {"run-id": check.run_id, "run-url": check.run_url})
    if check.state != "success":
        say(
            f"find-check: the check of {sha[:12]} did not pass ({check.state}): {check.description}"
        )
        return VERDICT
    say(f"find-check: {sha[:12]} was gated by run {check.run_id} ({check.run_url})")
    return PASSED
