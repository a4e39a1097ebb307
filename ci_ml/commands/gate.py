"""`ci-ml gate`: judge the declared rules on metrics.json; writes decision.json."""

from __future__ import annotations

from typing import Any

from ci_ml.errors import PASSED, VERDICT
from ci_ml.gate import decide
from ci_ml.metrics import resolve_rule_metric
from ci_ml.workspace import Workspace, say


def gate_rules(ws: Workspace) -> list[dict[str, Any]]:
    """The configured rules, each naming its metric by scorer name."""
    metrics = ws.config.metrics
    return [
        rule
        if "budget" in rule
        else rule | {"metric": resolve_rule_metric(rule["metric"], metrics, f"gate[{i}].metric")}
        for i, rule in enumerate(ws.config.gate)
    ]


def stage(ws: Workspace) -> dict[str, Any]:
    rules = gate_rules(ws)
    evaluation = ws.run.read("metrics.json")
    has_champion = evaluation["champion"] is not None
    decision = decide(rules, evaluation["metrics"], has_champion, evaluation.get("budgets"))
    result = decision.to_dict()
    ws.run.write("decision.json", result)
    return result


def run(ws: Workspace) -> int:
    decision = stage(ws)
    say(f"gate: {decision['verdict']}: {decision['reason']}")
    return PASSED if decision["verdict"] == "promote" else VERDICT
