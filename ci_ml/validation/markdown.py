"""Markdown for report.md and the PR comment: failures first, drifted columns first."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ci_ml.validation.drift import ColumnDrift, DriftResult
from ci_ml.validation.rules import RuleFailure, ValidationResult

MAX_STABLE_ROWS = 10
MAX_FAILURE_ROWS = 50


def render_markdown(
    validation: ValidationResult | None = None, drift: DriftResult | None = None
) -> str:
    """Both sections, each skipped when its result is None."""
    parts = []
    if validation is not None:
        parts.append(render_validation(validation))
    if drift is not None:
        parts.append(render_drift(drift))
    return "\n\n".join(parts) + "\n"


def render_validation(result: ValidationResult) -> str:
    verdict = "passed" if result.passed else "failed"
    head = (
        f"### Data validation: {verdict}\n\n"
        f"{result.rows:,} rows, {len(result.columns)} columns; "
        f"{len(result.errors)} errors, {len(result.warnings)} warnings."
    )
    if not result.failures:
        return head
    ordered = sorted(result.failures, key=lambda f: f.severity != "error")
    rows = [_failure_row(f) for f in ordered[:MAX_FAILURE_ROWS]]
    table = tabulate(
        rows,
        headers=[
            "Column",
            "Rule",
            "Severity",
            "Expected",
            "Found",
            "Rows",
            "Examples (row: value)",
        ],
        tablefmt="github",
    )
    more = len(ordered) - MAX_FAILURE_ROWS
    return head + "\n\n" + table + (f"\n\n... and {more} more failures." if more > 0 else "")


def _failure_row(failure: RuleFailure) -> list[Any]:
    examples = ", ".join(f"{row}: {_value(value)}" for row, value in failure.examples[:3])
    return [
        _cell(failure.column or "(table)"),
        failure.rule,
        failure.severity,
        _cell(failure.expected),
        _cell(failure.found),
        f"{failure.failing_rows:,}",
        _cell(examples),
    ]


def render_drift(result: DriftResult) -> str:
    verdict = "drift" if result.dataset_drift else "no drift"
    drifted = result.drifted_columns
    head = (
        f"### Drift against the champion: {verdict} ({result.action})\n\n"
        f"{len(drifted)} of {len(result.columns)} feature columns drifted "
        f"({result.drifted_share:.0%}; the dataset drifts above {result.share_threshold:.0%}); "
        f"{result.current_rows:,} new rows vs {result.reference_rows:,} training rows."
    )
    stable = [c for c in result.columns if not c.drifted]
    rows = [_drift_row(c) for c in [*drifted, *stable[:MAX_STABLE_ROWS]]]
    table = tabulate(
        rows,
        headers=["Column", "Drift", "Method", "Statistic", "Threshold", "p (BH)", "Change"],
        tablefmt="github",
    )
    hidden = len(stable) - MAX_STABLE_ROWS
    tail = f"\n\n... and {hidden} more columns without drift." if hidden > 0 else ""
    return head + _schema_change(result) + "\n\n" + table + tail + _apart(result)


def _schema_change(result: DriftResult) -> str:
    changed = [c for c in result.columns if c.status != "compared"]
    if not changed:
        return ""
    names = ", ".join(f"`{c.column}` ({c.status})" for c in changed)
    return (
        f"\n\nColumns changed since the champion was trained: {names}. Its profile no "
        "longer describes the data, so the drift check fails until a new champion is "
        "trained on it (or drift is set to `ignore`)."
    )


def _apart(result: DriftResult) -> str:
    lines = []
    for label, column in (("Target", result.target), ("Prediction", result.prediction)):
        if column is not None:
            state = "drifted" if column.drifted else "stable"
            lines.append(
                f"- {label} `{column.column}`: {state}, {column.method} "
                f"{_number(column.statistic)} (threshold {_number(column.threshold)}): "
                f"{column.description}"
            )
    return "\n\n" + "\n".join(lines) if lines else ""


def _drift_row(column: ColumnDrift) -> list[Any]:
    return [
        _cell(column.column),
        "**yes**" if column.drifted else "no",
        column.method,
        _number(column.statistic),
        _number(column.threshold),
        _number(column.p_adjusted),
        _cell(column.description),
    ]


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.1e}"
    return f"{value:.3g}"


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)


def _cell(value: Any) -> str:
    """Text safe inside a GitHub table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")
