"""`ci-ml gate`: judge the declared rules on metrics.json; writes decision.json."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.output import Output
from ci_ml.records import DecisionRecord
from ci_ml.stages.gate import judge
from ci_ml.workspace import Workspace, show_result

HEADERS = ["rule", "metric", "kind", "threshold", "value", "status", "reason"]


def run(ws: Workspace, output_format: str = "text") -> int:
    decision = judge(ws.config, ws.run)
    show_result(view(decision), output_format)
    return PASSED if decision.promotes else VERDICT


def view(decision: DecisionRecord) -> Output:
    rows = [[rule.get(name) for name in HEADERS] for rule in decision.rules]
    return Output(decision.to_json(), f"gate: {decision.summary}", HEADERS, rows)
