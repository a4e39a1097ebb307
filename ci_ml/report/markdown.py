"""report.md: what a PR comment and the job summary carry (GitHub-flavoured markdown)."""

from __future__ import annotations

from typing import Any

from tabulate import tabulate

from ci_ml.report import common


def render(report: dict[str, Any]) -> str:
    parts = [
        f"## ci-ml · {report['name']}",
        f"**{common.verdict_line(report)}**",
        common.comparison_line(report) if report.get("metrics") else "",
        _table(common.metric_headers(report), common.metric_rows(report)),
        common.mcnemar_line(report),
        _chart(report),
        _section("Gate rules", common.RULE_HEADERS, common.rule_rows(report), open_=True),
        _section("Slices, worst first", common.SLICE_HEADERS, common.slice_rows(report)),
        _section("Budgets", common.BUDGET_HEADERS, common.budget_rows(report)),
        _section("Data validation", common.FAILURE_HEADERS, common.failure_rows(report)),
        _drift(report),
        _warnings(report),
        _lineage(report),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _chart(report: dict[str, Any]) -> str:
    """Relative change per metric as a Mermaid bar chart: GitHub renders it, no image host."""
    bars = common.relative_changes(report)
    if not bars:
        return ""
    names = ", ".join(f'"{name}"' for name, _ in bars)
    values = ", ".join(f"{value:.2f}" for _, value in bars)
    low, high = min(0.0, *(v for _, v in bars)), max(0.0, *(v for _, v in bars))
    pad = max(high - low, 1.0) * 0.1
    chart = (
        "```mermaid\nxychart-beta\n"
        '  title "Change vs champion, % (positive is better)"\n'
        f"  x-axis [{names}]\n"
        f'  y-axis "%" {low - pad:.2f} --> {high + pad:.2f}\n'
        f"  bar [{values}]\n```"
    )
    return _details("Chart: change vs champion", chart)


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
    names = ", ".join(f'"{c["column"]}"' for c in columns)
    ratios = [min(common.drift_ratio(c), 99.0) for c in columns]
    values = ", ".join(f"{r:.2f}" for r in ratios)
    top = max(1.5, *ratios) * 1.1
    return (
        "```mermaid\nxychart-beta\n"
        '  title "Drift per column, x its threshold (above 1 = drifted)"\n'
        f"  x-axis [{names}]\n"
        f'  y-axis "x threshold" 0 --> {top:.2f}\n'
        f"  bar [{values}]\n"
        f"  line [{', '.join('1' for _ in columns)}]\n```"
    )


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
    warnings = report.get("warnings", [])
    return "\n".join(f"> ⚠️ {_escape(w)}" for w in warnings)


def _lineage(report: dict[str, Any]) -> str:
    lineage = report.get("lineage")
    if not lineage:
        return ""
    data = lineage.get("data") or {}
    git = lineage.get("git") or {}
    rows = [
        ["train data", _file(data.get("train"))],
        ["eval data", _file(data.get("eval"))],
        ["commit", (git.get("commit") or "–") + (" (dirty)" if git.get("dirty") else "")],
        ["config sha256", (lineage.get("config_hash") or "–")[:12]],
        ["trained by", f"{lineage.get('actor', '–')} at {lineage.get('created_at', '–')}"],
        ["versions", ", ".join(f"{k} {v}" for k, v in (lineage.get("versions") or {}).items())],
    ]
    if lineage.get("run_link"):
        rows.append(["run", lineage["run_link"]])
    return _details("Lineage", _table(["", ""], rows))


def _file(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    how = " (split of train)" if entry.get("source") == "split" else ""
    digest = str(entry.get("sha256", ""))[:12]
    return f"`{entry.get('path')}`{how} · {entry.get('rows')} rows · sha256 `{digest}`"
