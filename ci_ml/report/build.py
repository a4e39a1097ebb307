"""Assemble report.json from the run directory's stage outputs.

report.json is the single source every rendering (PR comment, job summary,
terminal, JSON) is made from, so `ci-ml report` can re-render a finished run.
Its shape is documented by ci_ml/schemas/report.schema.json.
"""

from __future__ import annotations

from typing import Any

from ci_ml.metrics import MetricName
from ci_ml.records import DecisionRecord, EvaluationRecord, Report, ValidationRecord
from ci_ml.report import changes

SCHEMA_VERSION = 1


def build_report(
    *,
    report_id: str,
    name: str,
    primary_metric: str,
    validation: ValidationRecord,
    card: dict[str, Any] | None = None,
    evaluation: EvaluationRecord | None = None,
    decision: DecisionRecord | None = None,
    champion_card: dict[str, Any] | None = None,
    curves: dict[str, Any] | None = None,
    trend: list[dict[str, Any]] | None = None,
) -> Report:
    """A report for a finished run; without a decision, the data was invalid.

    `curves` is `ci_ml.report.curves.from_predictions(predictions, task).to_dict()`.
    """
    verdict, reason = _verdict(validation, decision)
    return Report(
        schema_version=SCHEMA_VERSION,
        report_id=report_id,
        name=name,
        verdict=verdict,
        reason=reason,
        champion=evaluation.champion_version if evaluation else None,
        challenger=_challenger(card, evaluation),
        primary_metric=primary_metric,
        metrics=_metrics(evaluation.metrics if evaluation else {}, primary_metric),
        rules=decision.rules if decision else [],
        multiple_testing=decision.multiple_testing if decision else "none",
        comparison=evaluation.comparison if evaluation else None,
        mcnemar=evaluation.mcnemar if evaluation else None,
        slices=evaluation.slices if evaluation else [],
        budgets=evaluation.budgets if evaluation else {},
        validation=validation.to_json(),
        eval=evaluation.eval if evaluation else None,
        lineage=_lineage(card),
        warnings=[*validation.warnings, *(evaluation.warnings if evaluation else [])],
        changes=None if card is None else changes.between(champion_card, card),
        curves=_curves_of(curves, evaluation),
        compared_with=evaluation.compared_with if evaluation else None,
        baseline=evaluation.baseline if evaluation else None,
        trend=trend,
    )


def _curves_of(
    curves: dict[str, Any] | None, evaluation: EvaluationRecord | None
) -> dict[str, Any] | None:
    """On a first run the grey series are the baseline's: named so, never "champion"."""
    if curves is None or evaluation is None or evaluation.compared_with != "baseline":
        return curves
    renamed = [
        {**c, "series": [{**s, "role": _role(s["role"])} for s in c.get("series", [])]}
        for c in curves.get("curves", [])
    ]
    return {**curves, "curves": renamed}


def _role(role: str) -> str:
    return "baseline" if role == "champion" else role


def _verdict(validation: ValidationRecord, decision: DecisionRecord | None) -> tuple[str, str]:
    if not validation.passed:
        failures = validation.errors
        first = failures[0]["message"] if failures else "the data did not pass validation"
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return "invalid-data", first + more
    if decision is None:
        return "invalid-data", "the run stopped before the gate"
    return decision.verdict, decision.reason


def _challenger(
    card: dict[str, Any] | None, evaluation: EvaluationRecord | None
) -> dict[str, Any] | None:
    if card is None:
        return None
    return {
        "version": evaluation.challenger.get("version") if evaluation else None,
        "estimator": card.get("estimator"),
        "sha256": card.get("model_file", {}).get("sha256"),
        "size_bytes": card.get("model_file", {}).get("size_bytes"),
    }


def _metrics(metrics: dict[str, dict[str, Any]], primary: str) -> dict[str, dict[str, Any]]:
    out = {}
    for scorer, entry in metrics.items():
        name = MetricName.of(scorer, entry)
        interval = _shown_interval(entry.get("interval"), name.is_loss)
        shown_delta = (
            None if entry.get("delta") is None else entry["delta"] * (-1 if name.is_loss else 1)
        )
        out[scorer] = {
            **entry,
            "primary": scorer == primary,
            "display_name": name.display,
            "lower_is_better": name.is_loss,
            "shown": {
                "champion": name.shown(entry.get("champion")),
                "challenger": name.shown(entry.get("challenger")),
                "delta": shown_delta,
                "interval": interval or None,
            },
        }
    return out


def _shown_interval(interval: dict[str, Any] | None, is_loss: bool) -> dict[str, Any] | None:
    """The delta's interval in shown units: for a loss, the change in the loss itself."""
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return None
    if not is_loss:
        return interval
    return {**interval, "low": -interval["high"], "high": -interval["low"]}


def _lineage(card: dict[str, Any] | None) -> dict[str, Any] | None:
    if card is None:
        return None
    keys = ("created_at", "actor", "git", "run_link", "config_hash", "seed", "versions", "data")
    return {key: card.get(key) for key in keys}
