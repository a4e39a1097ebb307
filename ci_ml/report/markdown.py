"""report.md: what a PR comment and the job summary carry (GitHub-flavoured markdown)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ci_ml.report import changes, charts, common, forest

COMMENT_CHARS = 65_536  # GitHub's limit on one comment (the job summary allows 1 MiB)


def render(report: dict[str, Any]) -> str:
    """report.md; the curves are left out first when it would not fit in one comment."""
    full = _join(_parts(report, with_curves=True))
    if len(full) <= COMMENT_CHARS or not report.get("curves"):
        return full
    note = (
        "> Curves left out to fit GitHub's 65,536-character comment limit; "
        "report.html in the run folder has them all."
    )
    return _join([*_parts(report, with_curves=False), note])


def _join(parts: list[str]) -> str:
    return "\n\n".join(p for p in parts if p) + "\n"


def _parts(report: dict[str, Any], with_curves: bool) -> list[str]:
    return [
        f"## ci-ml · {report['name']}",
        f"**{common.verdict_line(report)}**",
        common.comparison_line(report) if report.get("metrics") else "",
        _table(common.metric_headers(report), common.metric_rows(report)),
        _forest(report),
        common.mcnemar_line(report),
        _section("Gate rules", common.RULE_HEADERS, common.rule_rows(report), open_=True),
        "\n\n".join(f"⚠️ {line}" for line in common.power_lines(report)),
        _changes(report),
        _curves(report) if with_curves else "",
        _confusion(report),
        _section("Slices, worst first", common.slice_headers(report), common.slice_rows(report)),
        _section("Budgets", common.BUDGET_HEADERS, common.budget_rows(report)),
        _section("Data validation", common.FAILURE_HEADERS, common.failure_rows(report)),
        _drift(report),
        _warnings(report),
        _trend(report),
        _html_link(report),
        _lineage(report),
    ]


def _html_link(report: dict[str, Any]) -> str:
    """report.html travels as a workflow artifact: link it where the run has a page."""
    link = (report.get("lineage") or {}).get("run_link")
    if not link:
        return ""
    return (
        f"📄 The full report, every chart drawn, is report.html in this run's "
        f"[artifacts]({link}#artifacts) (the shipped workflows upload it as ci-ml-report)."
    )


def _trend(report: dict[str, Any]) -> str:
    table = common.trend_table(report)
    if table is None:
        return ""
    return _section("Primary metric across champion versions", *table)


def _forest(report: dict[str, Any]) -> str:
    """The changes on one axis through zero, as text: the same in every renderer."""
    plot = forest.render(report)
    return f"```text\n{plot}\n```" if plot else ""


def _changes(report: dict[str, Any]) -> str:
    rows = common.change_rows(report)
    if not rows:
        return ""
    return _details("What changed besides the metrics", _table(common.CHANGE_HEADERS, rows))


def _curves(report: dict[str, Any]) -> str:
    record = report.get("curves")
    if not record or not record.get("curves"):
        return ""
    body = []
    for curve in common.curves_of(record):
        if curve.kind == "calibration":
            body.append(f"**{curve.title}**\n\n" + _table(*common.calibration_table(curve)))
        elif curve.kind == "predicted_vs_actual":
            body.append(f"**{curve.title}**\n\n" + _table(*common.predicted_table(curve)))
        else:
            body.append(charts.line_chart(curve) + "\n\n" + charts.legend(curve))
    kinds = dict.fromkeys(CURVE_NAMES[curve.kind] for curve in common.curves_of(record))
    title = f"Curves from the stored predictions: {', '.join(kinds)}"
    body.append("Every chart is also drawn in report.html, beside report.md in the run folder.")
    return _details(title, "\n\n".join(body))


CURVE_NAMES = {
    "roc": "ROC",
    "precision_recall": "precision-recall",
    "calibration": "calibration",
    "residuals": "residuals",
    "predicted_vs_actual": "predicted vs actual",
}


def _confusion(report: dict[str, Any]) -> str:
    table = common.confusion_table(report)
    if table is None:
        return ""
    headers, rows, note = table
    return _details("Confusion matrix", _table(headers, rows) + (f"\n\n{note}" if note else ""))


def _drift(report: dict[str, Any]) -> str:
    drift = common.drift_of(report)
    if not drift:
        return ""
    body = (
        common.drift_line(drift) + "\n\n" + _table(common.DRIFT_HEADERS, common.drift_rows(drift))
    )
    chart = _drift_chart(drift)
    title = "Drift vs the champion's training data" + (" ⚠️" if drift.get("dataset_drift") else "")
    return _details(
        title, body + ("\n\n" + chart if chart else ""), open_=bool(drift.get("dataset_drift"))
    )


def _drift_chart(drift: dict[str, Any]) -> str:
    """Statistic / threshold per column: above 1 means drifted."""
    columns = [c for c in common.drift_columns(drift) if c.get("threshold")][:12]
    if not columns:
        return ""
    labels = charts.short_labels([c["column"] for c in columns])
    ratios = [min(common.drift_ratio(c), 99.0) for c in columns]
    chart = charts.bar_chart(
        "Drift per column, x its threshold (above 1 = drifted; capped at 99)",
        labels.shown,
        ratios,
        "x threshold",
    )
    return chart + (f"\n\n{labels.legend}" if labels.legend else "")


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    escaped = [[_escape(str(c)) for c in row] for row in rows]
    return str(tabulate(escaped, headers=headers, tablefmt="github", disable_numparse=True))


def _section(title: str, headers: list[str], rows: list[list[str]], open_: bool = False) -> str:
    if not rows:
        return ""
    return _details(f"{title} ({len(rows)})", _table(headers, rows), open_)


def _details(summary: str, body: str, open_: bool = False) -> str:
    tag = "<details open>" if open_ else "<details>"
    return f"{tag}\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _warnings(report: dict[str, Any]) -> str:
    warnings = common.warnings_of(report)
    return "\n".join(f"> ⚠️ {_escape(w)}" for w in warnings)


def _lineage(report: dict[str, Any]) -> str:
    """A list, not a two-column table: GFM tables need a header row this has not got."""
    lineage = report.get("lineage")
    if not lineage:
        return ""
    data = lineage.get("data") or {}
    git = lineage.get("git") or {}
    commit = git.get("commit")
    items = [
        ("train data", _file(data.get("train"))),
        ("eval data", _file(data.get("eval"))),
        (
            "commit",
            (f"`{changes.short_hash(commit)}`" if commit else "–")
            + (" (dirty)" if git.get("dirty") else ""),
        ),
        ("config sha256", f"`{changes.short_hash(lineage.get('config_hash'))}`"),
        ("trained by", f"{lineage.get('actor', '–')} at {lineage.get('created_at', '–')}"),
        ("versions", ", ".join(f"{k} {v}" for k, v in (lineage.get("versions") or {}).items())),
    ]
    if lineage.get("run_link"):
        items.append(("run", lineage["run_link"]))
    return _details(
        "Lineage", "\n".join(f"- **{name}**: {_escape(value)}" for name, value in items)
    )


def _file(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    how = " (split of train)" if entry.get("source") == "split" else ""
    digest = changes.short_hash(entry.get("sha256"))
    return f"`{entry.get('path')}`{how} · {entry.get('rows')} rows · sha256 `{digest}`"
