"""`ci-ml gate`: judge the declared rules on metrics.json; writes decision.json."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.stages.gate import judge
from ci_ml.workspace import Workspace, say


def run(ws: Workspace) -> int:
    decision = judge(ws.config, ws.run)
    say(f"gate: {decision.summary}")
    return PASSED if decision.promotes else VERDICT
