"""`ci-ml gate`: judge the declared rules on metrics.json; writes decision.json."""

from __future__ import annotations

from typing import Any

from ci_ml.commands.evaluate import load_resampled
from ci_ml.errors import PASSED, VERDICT
from ci_ml.gate import Evidence, decide
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


def evidence(ws: Workspace) -> Evidence:
    """What evaluate recorded: metrics.json and the bootstrap's resampled values."""
    evaluation = ws.run.read("metrics.json")
    comparison = evaluation.get("comparison") or {}
    return Evidence(
        metrics=evaluation["metrics"],
        has_champion=evaluation["champion"] is not None,
        primary=evaluation.get("primary_metric", ws.config.primary_metric),
        budgets=evaluation.get("budgets") or {},
        resampled=load_resampled(ws.run),
        slices=evaluation.get("slices") or [],
        n_rows=int(comparison.get("rows") or (evaluation.get("eval") or {}).get("rows") or 0),
        min_rows=ws.config.evaluation.min_rows,
        multiple_testing=ws.config.evaluation.multiple_testing,
    )


def stage(ws: Workspace) -> dict[str, Any]:
    rules = gate_rules(ws)
    decision = decide(rules, evidence(ws))
    result = decision.to_dict()
    ws.run.write("decision.json", result)
    return result


def run(ws: Workspace) -> int:
    decision = stage(ws)
    say(f"gate: {decision['verdict']}: {decision['reason']}")
    return PASSED if decision["verdict"] == "promote" else VERDICT
