"""Pieces shared by the markdown and text renderings, so both show the same numbers."""

from __future__ import annotations

from typing import Any

VERDICT_TITLES = {
    "promote": ("✅", "promote"),
    "block": ("❌", "blocked"),
    "invalid-data": ("⚠️", "invalid data"),
}
STATUS_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "skipped": "➖ skipped"}


def number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.4g}" if signed else f"{value:.4g}"
    return text if abs(value) >= 1e-4 or value == 0 else f"{value:{'+' if signed else ''}.2e}"


def verdict_line(report: dict[str, Any]) -> str:
    mark, word = VERDICT_TITLES.get(report["verdict"], ("", report["verdict"]))
    return f"{mark} {word}: {report['reason']}".strip()


def comparison_line(report: dict[str, Any]) -> str:
    rows = (report.get("eval") or {}).get("rows")
    against = (
        f"champion version {report['champion']}"
        if report.get("champion") is not None
        else "no champion yet (first run: only absolute rules apply)"
    )
    on_rows = f" on the same {rows} evaluation rows" if rows else ""
    return f"Challenger vs {against}{on_rows}."


def metric_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for entry in report.get("metrics", {}).values():
        shown = entry["shown"]
        label = entry["display_name"] + (" ★" if entry.get("primary") else "")
        if entry.get("lower_is_better"):
            label += " (lower is better)"
        rows.append(
            [
                label,
                number(shown["champion"]),
                number(shown["challenger"]),
                f"{number(shown['delta'], signed=True)} {_direction(entry)}".strip(),
            ]
        )
    return rows


def _direction(entry: dict[str, Any]) -> str:
    delta = entry.get("delta")
    if delta is None:
        return ""  # no champion to compare with
    if delta == 0:
        return "= same"
    return "▲ better" if delta > 0 else "▼ worse"


METRIC_HEADERS = ["metric", "champion", "challenger", "change"]
RULE_HEADERS = ["rule", "metric", "check", "result", "why"]


def rule_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            rule["rule"],
            rule["metric"].removeprefix("neg_"),
            f"{rule['kind']} {number(rule['threshold'])}",
            STATUS_MARKS.get(rule["status"], rule["status"]),
            rule["reason"],
        ]
        for rule in report.get("rules", [])
    ]


def failure_rows(report: dict[str, Any]) -> list[list[str]]:
    failures = report.get("validation", {}).get("failures", [])
    return [
        [f.get("severity", "error"), f.get("column") or "(table)", f.get("rule", ""), f["message"]]
        for f in failures
    ]


FAILURE_HEADERS = ["severity", "column", "rule", "problem"]


def relative_changes(report: dict[str, Any]) -> list[tuple[str, float]]:
    """Per metric, the improvement over the champion in % of |champion| (skipping zeros)."""
    out = []
    for entry in report.get("metrics", {}).values():
        delta, champion = entry.get("delta"), entry.get("champion")
        if delta is not None and champion:
            out.append((entry["display_name"], 100.0 * delta / abs(champion)))
    return out
