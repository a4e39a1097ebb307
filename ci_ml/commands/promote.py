"""`ci-ml promote`: register the challenger and make it champion, if it won.

With --from-artifact DIR: promote the model a merged PR's check trained and gated
(its downloaded artifact), verified, compare-and-swap, re-gated if the champion moved."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.output import Output, emit
from ci_ml.registry import open_registry
from ci_ml.stages.promote import Promotion, promote
from ci_ml.stages.reviewed import Merge, Reviewed, promote_reviewed, version_name
from ci_ml.workspace import Workspace, say, show_result, warn_announcement


def run(ws: Workspace, force: bool = False, reason: str = "", output_format: str = "text") -> int:
    done = promote(ws.config, ws.run, open_registry(ws.config), ws.env, force, reason)
    warn_announcement(ws.env, "promote", done.announcement)
    show_result(view(done), output_format)
    return PASSED if done.promoted else VERDICT


def run_reviewed(
    ws: Workspace, expect: int | None, merge: Merge, output_format: str = "text"
) -> int:
    """The PR check's model, from its artifact (ws.run is the artifact's folder)."""
    result = promote_reviewed(ws, open_registry(ws.config), expect, merge)
    note = reviewed_note(result, merge)
    output = view(result.promotion)
    say(f"promote: {note}")
    emit(output, output_format)
    settings = ws.env.github
    if merge.pull_request and settings.token and settings.repository:
        from ci_ml.github.merge import note_on_pull_request

        body = f"### ci-ml · {result.promotion.report.name}: after the merge\n\n{note}\n"
        note_on_pull_request(settings, merge.pull_request, body, result.promotion.report.report_id)
    return PASSED if result.promotion.promoted else VERDICT


def reviewed_note(result: Reviewed, merge: Merge) -> str:
    """One paragraph for the log and the PR: what was promoted, or why not."""
    done, report = result.promotion, result.promotion.report
    sha = str((report.challenger or {}).get("sha256", ""))[:12]
    merged = f" (merge {merge.merge_commit[:12]})" if merge.merge_commit else ""
    if done.unchanged:
        return f"version {done.version} already holds this model ({sha}…); nothing to do"
    moved = ""
    if result.regated:
        moved = (
            f"The champion moved since this PR's check compared with "
            f"{version_name(result.compared_with)}: the same model ({sha}…) was scored again "
            f"against {version_name(report.champion)} on the same eval rows and gated again. "
        )
    if not done.promoted:
        return f"{moved}Not promoted{merged}: the verdict is {report.verdict}: {report.reason}"
    gated = f"the model this PR's check gated ({sha}…)"
    return f"{moved}Promoted {gated} as version {done.version}{merged}."


def view(done: Promotion) -> Output:
    report = done.report
    data = {
        "promoted": done.promoted,
        "version": done.version,
        "unchanged": done.unchanged,
        "verdict": report.verdict,
        "reason": report.reason,
    }
    if done.version is None:
        headline = f"promote: not promoted, the verdict is {report.verdict}: {report.reason}"
    elif done.unchanged:
        headline = f"promote: version {done.version} already holds this model; nothing to do"
    else:
        headline = f"promote: version {done.version} is the champion"
    rows = [[name, value] for name, value in data.items()]
    return Output(data, headline, ["", "promote"], rows)
