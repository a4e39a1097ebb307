"""`ci-ml promote`: register the challenger and make it champion, if it won."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.registry import open_registry
from ci_ml.stages.promote import promote
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, force: bool = False, reason: str = "") -> int:
    done = promote(ws.config, ws.run, open_registry(ws.config), ws.env, force, reason)
    report = done.report
    if done.version is None:
        say(f"promote: not promoted, the verdict is {report.verdict}: {report.reason}")
        return VERDICT
    if done.unchanged:
        say(f"promote: version {done.version} already holds this model; nothing to do")
    say(f"promote: version {done.version} is the champion")
    return PASSED
