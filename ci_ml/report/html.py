"""report.html: one self-contained page (inline CSS and SVG, no script, no network).

The same content as report.md, with every chart drawn: it opens from disk and
can be kept as a build artifact.
"""

from __future__ import annotations

from html import escape
from typing import Any

from ci_ml.report import changes, charts, common, forest, svg

STYLE = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;
color:#24292f;max-width:1100px;margin:24px auto;padding:0 16px;font-size:14px;background:#fff}
h1{font-size:22px;border-bottom:1px solid #d0d7de;padding-bottom:6px}
h2{font-size:17px;margin-top:28px;border-bottom:1px solid #eaeef2;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:13px;line-height:1.35}
.verdict{font-size:16px;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.charts svg{border:1px solid #eaeef2}
.warning{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0}
.note{color:#57606a}
"""


def render(report: dict[str, Any]) -> str:
    body = [
        f"<h1>ci-ml · {escape(report['name'])}</h1>",
        f'<p class="verdict">{escape(common.verdict_line(report))}</p>',
        _p(common.comparison_line(report)) if report.get("metrics") else "",
        _table(common.metric_headers(report), common.metric_rows(report)),
        _forest(report),
        _p(common.mcnemar_line(report)),
        _section("Gate rules", _table(common.RULE_HEADERS, common.rule_rows(report))),
        "".join(f'<p class="warning">⚠️ {escape(w)}</p>' for w in common.power_lines(report)),
        _section("What changed besides the metrics", _changes(report)),
        _section("Curves from the stored predictions", _curves(report)),
        _section("Confusion matrix", _confusion(report)),
        _section(
            "Slices, worst first", _table(common.slice_headers(report), common.slice_rows(report))
        ),
        _section("Budgets", _table(common.BUDGET_HEADERS, common.budget_rows(report))),
        _section("Data validation", _table(common.FAILURE_HEADERS, common.failure_rows(report))),
        _section("Drift vs the champion's training data", _drift(report)),
        "".join(f'<p class="warning">⚠️ {escape(w)}</p>' for w in common.warnings_of(report)),
        _section("Primary metric across champion versions", _trend(report)),
        _section("Lineage", _lineage(report)),
    ]
    title = escape(f"ci-ml · {report['name']} · {report['verdict']}")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{title}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )


def _trend(report: dict[str, Any]) -> str:
    table = common.trend_table(report)
    return "" if table is None else _table(*table)


def _p(text: str) -> str:
    return f"<p>{escape(text)}</p>" if text else ""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    cells = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def _section(title: str, content: str) -> str:
    return f"<h2>{escape(title)}</h2>\n{content}" if content else ""


def _forest(report: dict[str, Any]) -> str:
    rows, text = forest.rows(report), forest.render(report)
    if not rows:  # the text says why nothing is plotted, if anything was compared
        return f"<p>{escape(text)}</p>" if text else ""
    level = (report.get("comparison") or {}).get("confidence", 0.95)
    chart = svg.forest_chart(rows, forest.span(rows), level, common.reference(report))
    return f'<div class="charts">{chart}</div>\n<pre>{escape(text)}</pre>'


def _changes(report: dict[str, Any]) -> str:
    return _table(common.CHANGE_HEADERS, common.change_rows(report))


def _curves(report: dict[str, Any]) -> str:
    record = report.get("curves")
    if not record or not record.get("curves"):
        return ""
    drawn = "".join(svg.curve_chart(curve) for curve in common.curves_of(record))
    note = (
        f'<p class="note">{record["rows"]} evaluation rows; '
        f"grey: {common.reference(report)}, blue: challenger; "
        "dashed: the chance line (ROC), perfect calibration, or predicted = actual.</p>"
    )
    return f'{note}<div class="charts">{drawn}</div>'


def _confusion(report: dict[str, Any]) -> str:
    table = common.confusion_table(report)
    if table is None:
        return ""
    headers, rows, note = table
    return _table(headers, rows) + _p(note)


def _drift(report: dict[str, Any]) -> str:
    drift = common.drift_of(report)
    if not drift:
        return ""
    columns = [c for c in common.drift_columns(drift) if c.get("threshold")][:20]
    chart = ""
    if columns:
        labels = charts.short_labels([c["column"] for c in columns])
        ratios = [min(common.drift_ratio(c), 99.0) for c in columns]
        title = "Drift per column, x its threshold (red line: 1 = drifted)"
        chart = svg.bar_chart(title, labels.shown, ratios, "x threshold", 1.0) + _p(labels.legend)
    table = _table(common.DRIFT_HEADERS, common.drift_rows(drift))
    return _p(common.drift_line(drift)) + table + chart


def _lineage(report: dict[str, Any]) -> str:
    lineage = report.get("lineage")
    if not lineage:
        return ""
    data = lineage.get("data") or {}
    rows = [[name, _file(data.get(name.split()[0]))] for name in ("train data", "eval data")]
    rows += [
        ["commit", changes.short_hash((lineage.get("git") or {}).get("commit"))],
        ["config sha256", changes.short_hash(lineage.get("config_hash"))],
        ["trained by", f"{lineage.get('actor', '–')} at {lineage.get('created_at', '–')}"],
        ["versions", ", ".join(f"{k} {v}" for k, v in (lineage.get("versions") or {}).items())],
    ]
    return _table(["what", "value"], rows)


def _file(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    digest = changes.short_hash(entry.get("sha256"))
    return f"{entry.get('path')} · {entry.get('rows')} rows · sha256 {digest}"
