"""`ci-ml validate`: can the data be trusted? Writes validation.json (exit 1 when not)."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.registry import open_registry
from ci_ml.stages.validate import validate
from ci_ml.workspace import Workspace, log_group, say


def run(ws: Workspace) -> int:
    result = validate(ws.config, ws.run, open_registry(ws.config), ws.env)
    with log_group(ws.env, f"ci-ml validate: {len(result.failures)} finding(s)", result.failures):
        for entry in result.failures:
            say(f"{entry['severity']}: {entry['message']}")
    if not result.passed:
        say("validate: the data is invalid")
        return VERDICT
    say("validate: data ok")
    return PASSED
