"""`ci-ml gate`: judge the declared rules on metrics.json; writes decision.json."""

from __future__ import annotations

from typing import Any

from ci_ml.commands.evaluate import load_resampled
from ci_ml.config import GateRule
from ci_ml.errors import PASSED, VERDICT
from ci_ml.gate import Evidence, decide
from ci_ml.workspace import Workspace, say


def gate_rules(ws: Workspace) -> tuple[GateRule, ...]:
    """The configured rules, typed and with metric names resolved when the config loaded."""
    return ws.config.rules


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
        discordant=discordant(ws, evaluation),
    )


def discordant(ws: Workspace, evaluation: dict[str, Any]) -> tuple[int, int] | None:
    """(only the champion right, only the challenger right), for the exact floor on
    accuracy: from McNemar's record, else from the stored row predictions."""
    mcnemar = evaluation.get("mcnemar")
    if mcnemar:
        return int(mcnemar["only_champion_right"]), int(mcnemar["only_challenger_right"])
    if ws.config.task != "classification" or evaluation["champion"] is None:
        return None
    if not ws.run.predictions.is_file():
        return None
    import pandas as pd

    from ci_ml.comparison import mcnemar_exact

    rows = pd.read_parquet(
        ws.run.predictions, columns=["y_true", "champion_pred", "challenger_pred"]
    )
    result = mcnemar_exact(rows["y_true"], rows["champion_pred"], rows["challenger_pred"])
    return result.only_champion_right, result.only_challenger_right


def stage(ws: Workspace) -> dict[str, Any]:
    decision = decide(gate_rules(ws), evidence(ws))
    result = decision.to_dict()
    ws.run.write("decision.json", result)
    return result


def run(ws: Workspace) -> int:
    decision = stage(ws)
    say(f"gate: {decision['verdict']}: {decision['reason']}")
    return PASSED if decision["verdict"] == "promote" else VERDICT
