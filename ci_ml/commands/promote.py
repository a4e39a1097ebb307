"""`ci-ml promote`: register the challenger and make it champion, if it won."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.output import Output, emit
from ci_ml.registry import open_registry
from ci_ml.stages.promote import Promotion, promote
from ci_ml.workspace import Workspace, say, warn_announcement


def run(ws: Workspace, force: bool = False, reason: str = "", output_format: str = "text") -> int:
    done = promote(ws.config, ws.run, open_registry(ws.config), ws.env, force, reason)
    output = view(done)
    say(output.headline)
    warn_announcement(ws.env, "promote", done.announcement)
    emit(output, output_format)
    return PASSED if done.promoted else VERDICT


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
