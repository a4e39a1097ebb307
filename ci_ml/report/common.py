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
    for scorer, entry in report.get("metrics", {}).items():
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
                _percent(_shown_relative(entry)),
                _interval(shown.get("interval")) if shown.get("interval") else _own(entry),
                _percent(entry.get("prob_better"), signed=False),
                gate_mark(report, scorer),
            ]
        )
    return rows


def metric_headers(report: dict[str, Any]) -> list[str]:
    level = (report.get("comparison") or {}).get("confidence", 0.95)
    return [
        "metric",
        "champion",
        "challenger",
        "change",
        "relative",
        f"{level:.0%} interval (of the change)",
        "P(better)",
        "gate",
    ]


def _shown_relative(entry: dict[str, Any]) -> float | None:
    """The change relative to the champion, in the same direction as the shown change."""
    relative = entry.get("relative_delta")
    if relative is None:
        return None
    return -relative if entry.get("lower_is_better") else relative


def _percent(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value:+.1%}" if signed else f"{value:.0%}"


def _interval(interval: dict[str, Any] | None) -> str:
    if not interval:
        return "–"
    return f"[{number(interval['low'], signed=True)}, {number(interval['high'], signed=True)}]"


def _own(entry: dict[str, Any]) -> str:
    """With no champion, the challenger's own interval (in shown units) instead."""
    interval = entry.get("challenger_interval") or {}
    low, high = interval.get("low"), interval.get("high")
    if low is None or high is None:
        return "–"
    if entry.get("lower_is_better"):
        low, high = -high, -low
    return f"value in [{number(low)}, {number(high)}]"


def gate_mark(report: dict[str, Any], scorer: str) -> str:
    """✅ when every rule on the metric passed, ❌ when one failed, ➖ when all were skipped."""
    statuses = {
        r["status"]
        for r in report.get("rules", [])
        if r["metric"] == scorer and "slice_by" not in r
    }
    if not statuses:
        return ""
    if "fail" in statuses:
        return "❌"
    return "✅" if "pass" in statuses else "➖"


def _direction(entry: dict[str, Any]) -> str:
    delta = entry.get("delta")
    if delta is None:
        return ""  # no champion to compare with
    if delta == 0:
        return "= same"
    return "▲ better" if delta > 0 else "▼ worse"


RULE_HEADERS = ["rule", "role", "metric", "check", "result", "why"]
SLICE_HEADERS = ["slice", "metric", "rows", "champion", "challenger", "change", "judged"]
BUDGET_HEADERS = ["budget", "champion", "challenger", "ratio"]


def slice_rows(report: dict[str, Any]) -> list[list[str]]:
    """Slices of the primary metric and of metrics under slice rules, worst first."""
    wanted = {report.get("primary_metric")} | {
        r["metric"] for r in report.get("rules", []) if "slice_by" in r
    }
    metrics = report.get("metrics", {})
    rows = []
    for piece in report.get("slices", []):
        if piece["metric"] not in wanted:
            continue
        entry = metrics.get(piece["metric"], {})
        loss = bool(entry.get("lower_is_better"))
        flip = -1 if loss else 1
        rows.append(
            [
                f"{piece['column']}={'(missing)' if piece['value'] is None else piece['value']}",
                entry.get("display_name", piece["metric"]),
                str(piece["n_rows"]),
                number(None if piece["champion"] is None else flip * piece["champion"]),
                number(None if piece["challenger"] is None else flip * piece["challenger"]),
                f"{number(None if piece['delta'] is None else flip * piece['delta'], signed=True)}"
                f" {_direction(piece)}".strip(),
                "yes" if piece["judged"] else f"no: {piece.get('reason') or 'too small'}",
            ]
        )
    return rows


def budget_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            name,
            number(entry.get("champion")),
            number(entry.get("challenger")),
            "–" if entry.get("ratio") is None else f"x{entry['ratio']:.2f}",
        ]
        for name, entry in (report.get("budgets") or {}).items()
    ]


def mcnemar_line(report: dict[str, Any]) -> str:
    result = report.get("mcnemar")
    if not result:
        return ""
    return (
        f"McNemar exact test on per-row correctness: only the challenger right on "
        f"{result['only_challenger_right']} rows, only the champion on "
        f"{result['only_champion_right']}; p = {number(result['p_value'])} (two-sided)."
    )


def rule_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            rule["rule"],
            rule.get("role", ""),
            rule["metric"].removeprefix("neg_")
            + (f" per {rule['slice_by']}" if rule.get("slice_by") else ""),
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


DRIFT_HEADERS = ["column", "role", "drifted", "change", "method", "decided by"]
P_VALUE_METHODS = {"ks", "chisquare"}  # small samples: a corrected p-value decides


def drift_of(report: dict[str, Any]) -> dict[str, Any] | None:
    drift: dict[str, Any] | None = (report.get("validation") or {}).get("drift")
    return drift


def drift_columns(drift: dict[str, Any]) -> list[dict[str, Any]]:
    """Features, then the target and the predictions; drifted first, strongest first."""
    columns = list(drift.get("columns", []))
    columns += [c for c in (drift.get("target"), drift.get("prediction")) if c]
    return sorted(columns, key=lambda c: (not c.get("drifted"), -_ratio(c)))


def _ratio(column: dict[str, Any]) -> float:
    """How far past its threshold a column is: above 1 means drifted."""
    statistic, threshold = column.get("statistic"), column.get("threshold")
    if column.get("method") in P_VALUE_METHODS:
        p = column.get("p_adjusted")
        return 0.0 if p is None or not threshold else float(threshold) / max(float(p), 1e-12)
    if statistic is None or not threshold:
        return 0.0
    return float(statistic) / float(threshold)


def drift_ratio(column: dict[str, Any]) -> float:
    return _ratio(column)


def _decided_by(column: dict[str, Any]) -> str:
    drifted, threshold = bool(column.get("drifted")), column.get("threshold")
    if column.get("method") in P_VALUE_METHODS:
        word = "<" if drifted else ">="
        return f"p (BH) {number(column.get('p_adjusted'))} {word} {number(threshold)}"
    word = ">" if drifted else "<="
    return f"{number(column.get('statistic'))} {word} {number(threshold)}"


def drift_rows(drift: dict[str, Any]) -> list[list[str]]:
    return [
        [
            c["column"],
            c.get("role", "feature"),
            "⚠️ yes" if c.get("drifted") else "no",
            c.get("description") or c.get("status", ""),
            c.get("method", ""),
            _decided_by(c),
        ]
        for c in drift_columns(drift)
    ]


def drift_line(drift: dict[str, Any]) -> str:
    drifted = drift.get("drifted_columns") or []
    share, limit = drift.get("drifted_share") or 0.0, drift.get("share_threshold") or 0.0
    verdict = "dataset drift" if drift.get("dataset_drift") else "no dataset drift"
    return (
        f"Compared with the training data of champion version {drift.get('champion')}: "
        f"{verdict} ({len(drifted)} of the feature columns drifted, {share:.0%}; the limit is "
        f"{limit:.0%}; drift.action is {drift.get('action', 'warn')})."
    )
