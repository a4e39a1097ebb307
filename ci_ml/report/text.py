"""The terminal rendering: the same numbers as report.md, as plain tables."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ci_ml.report import common, forest


def render(report: dict[str, Any]) -> str:
    parts = [f"ci-ml · {report['name']}", common.verdict_line(report)]
    if report.get("metrics"):
        parts.append(common.comparison_line(report))
        parts.append(_table(common.metric_headers(report), common.metric_rows(report)))
        parts.append(forest.render(report))
        parts.append(common.mcnemar_line(report))
    if report.get("rules"):
        parts.append(_table(common.RULE_HEADERS, common.rule_rows(report)))
        parts.extend(f"warning: {line}" for line in common.power_lines(report))
    if common.change_rows(report):
        parts.append(_table(common.CHANGE_HEADERS, common.change_rows(report)))
    if common.slice_rows(report):
        parts.append(_table(common.slice_headers(report), common.slice_rows(report)))
    if common.failure_rows(report):
        parts.append(_table(common.FAILURE_HEADERS, common.failure_rows(report)))
    drift = common.drift_of(report)
    if drift:
        parts.append(common.drift_line(drift))
        parts.append(_table(common.DRIFT_HEADERS, common.drift_rows(drift)))
    parts.extend(f"warning: {w}" for w in common.warnings_of(report))
    trend = common.trend_table(report)
    if trend:
        parts.append("Primary metric across champion versions\n" + _table(*trend))
    return "\n\n".join(p for p in parts if p) + "\n"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return str(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
