"""Pieces shared by the markdown and text renderings, so both show the same numbers."""

from __future__ import annotations

import re
from typing import Any, Protocol

from ci_ml.report import curves, numbers
from ci_ml.report.curves import Curve

VERDICT_TITLES = {
    "promote": ("✅", "promote"),
    "block": ("❌", "blocked"),
    "invalid-data": ("⚠️", "invalid data"),
}
STATUS_MARKS = {"pass": "✅ pass", "fail": "❌ fail", "skipped": "➖ skipped"}


def number(value: float | None, signed: bool = False) -> str:
    """A number without an interval to round it by: four significant digits, never `-0`."""
    return numbers.general(value, signed)


def verdict_line(report: dict[str, Any]) -> str:
    mark, word = VERDICT_TITLES.get(report["verdict"], ("", report["verdict"]))
    return f"{mark} {word}: {report['reason']}".strip()


def reference(report: dict[str, Any]) -> str:
    """What the challenger is compared with: the champion, or on a first run the baseline."""
    return "baseline" if report.get("compared_with") == "baseline" else "champion"


def comparison_line(report: dict[str, Any]) -> str:
    rows = (report.get("eval") or {}).get("rows")
    against = (
        f"champion version {report['champion']}"
        if report.get("champion") is not None
        else "no champion yet (first run: only absolute rules apply)"
    )
    if reference(report) == "baseline":
        estimator = str((report.get("baseline") or {}).get("estimator", "a trivial model"))
        against = (
            f"the baseline {estimator.removeprefix('sklearn.dummy.')}, fitted on the same "
            "training rows (no champion yet)"
        )
    on_rows = f" on the same {rows} evaluation rows" if rows else ""
    return f"Challenger vs {against}{on_rows}."


def metric_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for scorer, entry in report.get("metrics", {}).items():
        label = entry["display_name"] + (" ★" if entry.get("primary") else "")
        if entry.get("lower_is_better"):
            label += " (lower is better)"
        value, change = value_format(entry), change_format(entry)
        shown = entry["shown"]
        rows.append(
            [
                label,
                value(shown["champion"]),
                value(shown["challenger"]),
                f"{change(shown['delta'], True)} {_direction(entry)}".strip(),
                numbers.percent(_shown_relative(entry)),
                _interval(shown.get("interval"), change) if shown.get("interval") else _own(entry),
                numbers.percent(entry.get("prob_better"), 0, signed=False),
                gate_mark(report, scorer),
            ]
        )
    return rows


class Formatter(Protocol):
    def __call__(self, value: float | None, signed: bool = False) -> str: ...


def value_format(entry: dict[str, Any]) -> Formatter:
    """The metric's values with the digits their interval justifies; the paired change's
    (narrower) interval when there is one, so two values differ as the change says."""
    own, paired = _width(entry.get("challenger_interval")), _width(entry.get("interval"))
    return _format(
        entry,
        entry.get("interval")
        if paired and own and paired < own
        else entry.get("challenger_interval"),
    )


def change_format(entry: dict[str, Any]) -> Formatter:
    """The change with the digits the interval of the change justifies."""
    return _format(entry, entry.get("interval"))


def _format(entry: dict[str, Any], interval: dict[str, Any] | None) -> Formatter:
    scale = 100.0 if entry.get("display_name") in numbers.PERCENT_METRICS else 1.0
    unit = "%" if scale == 100.0 else ""
    width = _width(interval)
    decimals = numbers.decimals_for(None if width is None else width * scale)

    def show(value: float | None, signed: bool = False) -> str:
        if value is None:
            return "–"
        if not width:  # no interval, or none to speak of (identical predictions)
            return numbers.general(value * scale, signed) + unit
        return numbers.fixed(value * scale, decimals, signed) + unit

    return show


def _width(interval: dict[str, Any] | None) -> float | None:
    if not interval or interval.get("low") is None or interval.get("high") is None:
        return None
    return float(interval["high"]) - float(interval["low"])


def metric_headers(report: dict[str, Any]) -> list[str]:
    level = (report.get("comparison") or {}).get("confidence", 0.95)
    return [
        "metric",
        reference(report),
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
    if relative is None or not has_percent_scale(entry):
        return None
    return -relative if entry.get("lower_is_better") else relative


def has_percent_scale(entry: dict[str, Any]) -> bool:
    """Whether the champion's (or baseline's) value can be the 100% of a percentage: it
    is not 0 and its own interval is narrower than its distance from 0. Otherwise the
    percentage divides by sampling noise (a mean-predicting baseline's r2 of -0.0007
    made a +70,742% "improvement"), and its interval, which takes that value as exact,
    would not be the interval of the percentage."""
    champion = entry.get("champion")
    if not champion:
        return False
    own = entry.get("champion_interval") or {}
    low, high = own.get("low"), own.get("high")
    if low is None or high is None:
        return True  # no resampling: nothing says the value is noise
    return float(high) - float(low) < abs(float(champion))


def _interval(interval: dict[str, Any] | None, show: Formatter) -> str:
    if not interval:
        return "–"
    if interval["low"] == interval["high"] == 0:
        # no resample told the models apart: that is not certainty that they are equal
        return "0 in every resample"
    return f"[{show(interval['low'], True)}, {show(interval['high'], True)}]"


def _own(entry: dict[str, Any]) -> str:
    """With no champion, the challenger's own interval (in shown units) instead."""
    interval = entry.get("challenger_interval") or {}
    low, high = interval.get("low"), interval.get("high")
    if low is None or high is None:
        return "–"
    if entry.get("lower_is_better"):
        low, high = -high, -low
    show = value_format(entry)
    return f"value in [{show(low)}, {show(high)}]"


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


def slice_headers(report: dict[str, Any]) -> list[str]:
    return [reference(report) if h == "champion" else h for h in SLICE_HEADERS]


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
        flip = -1 if entry.get("lower_is_better") else 1
        value, change = value_format(entry), change_format(entry)
        rows.append(
            [
                f"{piece['column']}={'(missing)' if piece['value'] is None else piece['value']}",
                entry.get("display_name", piece["metric"]),
                str(piece["n_rows"]),
                value(None if piece["champion"] is None else flip * piece["champion"]),
                value(None if piece["challenger"] is None else flip * piece["challenger"]),
                f"{change(None if piece['delta'] is None else flip * piece['delta'], True)}"
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
        f"{result['only_challenger_right']} rows, only the {reference(report)} on "
        f"{result['only_champion_right']}; p = {numbers.p_value(result['p_value'])} (two-sided)."
    )


def rule_rows(report: dict[str, Any]) -> list[list[str]]:
    return [
        [
            rule["rule"],
            rule.get("role", ""),
            rule["metric"].removeprefix("neg_")
            + (f" per {rule['slice_by']}" if rule.get("slice_by") else ""),
            _check(rule),
            STATUS_MARKS.get(rule["status"], rule["status"])
            + (" (underpowered)" if rule.get("underpowered") else ""),
            rule["reason"],
        ]
        for rule in report.get("rules", [])
    ]


def power_lines(report: dict[str, Any]) -> list[str]:
    """Why a failed confidence rule never will pass at this eval size, in plain words."""
    rows = (report.get("eval") or {}).get("rows")
    lines = []
    for rule in report.get("rules", []):
        if rule.get("status") != "fail" or not rule.get("underpowered"):
            continue
        needed = rule.get("rows_needed")
        lines.append(
            f"{rule['rule']} {rule['metric'].removeprefix('neg_')} {rule['kind']} cannot pass "
            f"at {rows} eval rows: the smallest change it detects (80% power) is "
            f"{number(rule.get('detectable_change'))} beyond its bound, and its margin of "
            f"{number(abs(rule['threshold']))} needs about "
            f"{'more' if needed is None else f'{needed:,}'} eval rows."
        )
    return lines


TREND_HEADERS = ["version", "promoted"]


def trend_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """The primary metric of the last champions, oldest first (two or more)."""
    points = report.get("trend") or []
    if len(points) < 2:
        return None
    entry = (report.get("metrics") or {}).get(report.get("primary_metric", ""), {})
    name = entry.get("display_name", str(report.get("primary_metric", "")).removeprefix("neg_"))
    rows = [
        [f"v{p['version']}", str(p.get("created_at") or "–")[:10], number(p.get("value"))]
        for p in points
    ]
    return [*TREND_HEADERS, name], rows


def _check(rule: dict[str, Any]) -> str:
    """The rule as configured; a confidence rule adds its level and one-sided test."""
    text = f"{rule['kind']} {number(rule['threshold'])}"
    if rule.get("confidence") is None:
        return text
    side = {"lower": ", lower bound", "upper": ", upper bound"}.get(rule.get("side") or "", "")
    return f"{text} at {rule['confidence']:.0%}{side}"


def failure_rows(report: dict[str, Any]) -> list[list[str]]:
    failures = report.get("validation", {}).get("failures", [])
    return [
        [
            f.get("severity", "error"),
            f.get("column") or "(table)",
            f.get("rule", ""),
            readable(f["message"]),
        ]
        for f in failures
    ]


LONG_FLOAT = re.compile(
    r"(?<![\w.])-?\d+\.\d{5,}(?:e-?\d+)?(?![\w.])|(?<![\w.])-?\d+(?:\.\d+)?e-\d+\b"
)


def readable(message: str) -> str:
    """A message with its full-precision floats (2775.332673654447, 9.89e-11) at 4 digits."""
    return LONG_FLOAT.sub(lambda m: numbers.general(float(m[0])), message)


def warnings_of(report: dict[str, Any]) -> list[str]:
    return [readable(w) for w in report.get("warnings", [])]


FAILURE_HEADERS = ["severity", "column", "rule", "problem"]


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
        return f"p (Holm) {numbers.p_value(column.get('p_adjusted'))} {word} {number(threshold)}"
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


# -- what changed besides the metrics, curves and the confusion matrix -----------------

CHANGE_HEADERS = ["what", "champion", "challenger"]


def change_rows(report: dict[str, Any]) -> list[list[str]]:
    """Estimator, differing parameters, data: `=` where the champion's value is the same."""
    record = report.get("changes")
    if not record:
        return []
    rows = [_change_row("estimator", record["estimator"])]
    rows += [_change_row(f"param {p['name']}", p) for p in record.get("params", [])]
    rows += [_change_row(d["name"], d) for d in record.get("data", [])]
    return rows


def _change_row(name: str, pair: dict[str, Any]) -> list[str]:
    old, new = pair.get("champion"), pair.get("challenger")
    if old is not None and old == new:
        return [name, _plain(old), "= same"]
    return [name, _plain(old), _plain(new)]


def _plain(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return number(value)
    return str(value)


def curves_of(record: dict[str, Any]) -> list[Curve]:
    return curves.from_dict(record).curves


def calibration_table(curve: Curve) -> tuple[list[str], list[list[str]]]:
    """Per probability bin: the share that was positive, per model (rows in brackets)."""
    ordered = sorted(curve.series, key=lambda s: s.role == "challenger")
    cells: dict[int, dict[str, str]] = {}
    for series in ordered:
        for x, y, n in zip(series.x, series.y, series.counts or [], strict=False):
            index = min(int(x * curves.CALIBRATION_BINS), curves.CALIBRATION_BINS - 1)
            cells.setdefault(index, {})[series.role] = f"{numbers.fixed(y, 2)} ({n})"
    step = 1 / curves.CALIBRATION_BINS
    headers = ["predicted probability", *(f"{s.role}: observed share (rows)" for s in ordered)]
    rows = [
        [
            f"{index * step:.1f}–{(index + 1) * step:.1f}",
            *(cells[index].get(s.role, "–") for s in ordered),
        ]
        for index in sorted(cells)
    ]
    return headers, rows


def predicted_table(curve: Curve, bins: int = 10) -> tuple[list[str], list[list[str]]]:
    """Rows grouped by actual value (equal-count bins): mean actual vs each model's mean."""
    ordered = sorted(curve.series, key=lambda s: s.role == "challenger")
    headers = ["rows", "mean actual", *(f"{s.role} mean predicted" for s in ordered)]
    size = max(1, -(-len(ordered[0].x) // bins))
    spread = max(ordered[0].x) - min(ordered[0].x) if ordered[0].x else 0.0
    decimals = numbers.decimals_for(spread / 100)  # a percent of the range

    def show(value: float) -> str:
        return numbers.fixed(value, decimals)

    rows = []
    for start in range(0, len(ordered[0].x), size):
        actual = ordered[0].x[start : start + size]
        means = [sum(s.y[start : start + size]) / len(actual) for s in ordered]
        rows.append([str(len(actual)), show(sum(actual) / len(actual)), *map(show, means)])
    return headers, rows


def confusion_table(report: dict[str, Any]) -> tuple[list[str], list[list[str]], str] | None:
    """Actual by predicted: the challenger's count, with the change from the champion's."""
    record = (report.get("curves") or {}).get("confusion")
    if not record:
        return None
    labels, new, old = record["labels"], record["challenger"], record.get("champion")
    headers = ["actual ↓ / predicted →", *labels]
    rows = [
        [label, *(_cell(new[i][j], None if old is None else old[i][j]) for j in range(len(labels)))]
        for i, label in enumerate(labels)
    ]
    note = "Each cell: the challenger's rows" + (
        f", and in brackets the change from the {reference(report)}'s." if old is not None else "."
    )
    if record.get("other_classes"):
        note += f" {record['other_classes']} less frequent class(es) left out."
    return headers, rows, note


def _cell(new: int, old: int | None) -> str:
    if old is None or old == new:
        return str(new)
    return f"{new} ({new - old:+d})"
