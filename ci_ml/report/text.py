"""The terminal rendering: the same numbers as report.md, as plain tables."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ci_ml.report import common


def render(report: dict[str, Any]) -> str:
    parts = [f"ci-ml · {report['name']}", common.verdict_line(report)]
    if report.get("metrics"):
        parts.append(common.comparison_line(report))
        parts.append(_table(common.METRIC_HEADERS, common.metric_rows(report)))
    if report.get("rules"):
        parts.append(_table(common.RULE_HEADERS, common.rule_rows(report)))
    if common.failure_rows(report):
        parts.append(_table(common.FAILURE_HEADERS, common.failure_rows(report)))
    parts.extend(f"warning: {w}" for w in report.get("warnings", []))
    return "\n\n".join(parts) + "\n"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    return str(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
