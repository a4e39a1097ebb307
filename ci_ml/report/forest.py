"""The forest plot: every metric's change, its interval and the gate's bound on one axis.

Metrics differ in scale, so the shared axis is the improvement in % of the champion's
value (positive is better, for a loss too). Drawn in text, it looks the same in the
terminal, the PR comment and the job summary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ci_ml.report import numbers
from ci_ml.report.common import has_percent_scale, reference

AXIS_WIDTH = 41  # characters; odd, so zero sits in the middle
# Only characters of WGL4, which every common monospace font has (Consolas, Menlo,
# DejaVu / Liberation Mono): a glyph from a fallback font would break the columns.
CHANGE_BOUNDS = ("min_delta", "max_delta", "max_regression", "min_relative_delta")


@dataclass(frozen=True)
class Row:
    """One metric's improvement in % of the champion's value."""

    name: str
    point: float
    low: float | None
    high: float | None
    bounds: tuple[float, ...]


def rows(report: dict[str, Any]) -> list[Row]:
    """Metrics with a champion value to be a percentage of (`has_percent_scale`)."""
    out = []
    for scorer, entry in report.get("metrics", {}).items():
        delta, champion = entry.get("delta"), entry.get("champion")
        if delta is None or not has_percent_scale(entry):
            continue
        scale = 100.0 / abs(float(champion))
        interval = entry.get("interval") or {}
        low, high = interval.get("low"), interval.get("high")
        out.append(
            Row(
                entry.get("display_name", scorer) + (" *" if entry.get("primary") else ""),
                delta * scale,
                None if low is None else low * scale,
                None if high is None else high * scale,
                tuple(_bounds(report, scorer, scale)),
            )
        )
    return out


def _bounds(report: dict[str, Any], scorer: str, scale: float) -> list[float]:
    """The gate's change rules on this metric, as improvements in % of the champion."""
    out = []
    for rule in report.get("rules", []):
        if rule.get("metric") != scorer or rule.get("kind") not in CHANGE_BOUNDS:
            continue
        if "slice_by" in rule or rule.get("threshold") is None:
            continue
        threshold = float(rule["threshold"])
        kind = rule["kind"]
        if kind == "min_relative_delta":
            out.append(100.0 * threshold)
        else:
            out.append((-threshold if kind == "max_regression" else threshold) * scale)
    return out


def span(plotted: list[Row]) -> float:
    """Half the axis: room for every point, interval end and bound, as a round number."""
    values = [abs(v) for r in plotted for v in (r.point, r.low, r.high, *r.bounds) if v is not None]
    widest = max([v for v in values if math.isfinite(v)] or [1.0])
    return _round_up(max(widest, 0.1))


def _round_up(value: float) -> float:
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def render(report: dict[str, Any]) -> str:
    """The plot as lines of text; empty without a champion to compare with."""
    plotted = rows(report)
    if not plotted:
        return "\n".join(_left_out(report))
    half = span(plotted)
    level = (report.get("comparison") or {}).get("confidence", 0.95)
    width = max(len(r.name) for r in plotted)
    lines = [
        f"Improvement over the {reference(report)}, % of its value ({level:.0%} "
        "interval ├─┤,"
        " point ●, gate bound ║, zero │ or ┼; * primary metric)",
        " " * width + "  " + _ends("← worse", "better →"),
    ]
    lines += [f"{r.name:<{width}}  {_axis(r, half)}  {_numbers(r)}" for r in plotted]
    lines.append(" " * width + "  " + _ticks(half))
    lines += _left_out(report)
    return "\n".join(line.rstrip() for line in lines)


def _left_out(report: dict[str, Any]) -> list[str]:
    """Why a compared metric is not on the axis: its reference value is within its own
    interval's width of 0, so a percentage of it would be a percentage of noise."""
    names = [
        entry.get("display_name", scorer)
        for scorer, entry in report.get("metrics", {}).items()
        if entry.get("delta") is not None and not has_percent_scale(entry)
    ]
    if not names:
        return []
    return [
        f"Not plotted: {', '.join(names)} (the {reference(report)}'s value is 0 or closer to 0 "
        "than its own interval is wide: no scale for a percentage; see the table's change)"
    ]


def _ends(left: str, right: str) -> str:
    return left + " " * (AXIS_WIDTH - len(left) - len(right)) + right


def _ticks(half: float) -> str:
    low, high = numbers.general(-half) + "%", "+" + numbers.general(half) + "%"
    middle = AXIS_WIDTH // 2
    text = low + " " * (middle - len(low)) + "0"
    return text + " " * (AXIS_WIDTH - len(text) - len(high)) + high


def _axis(row: Row, half: float) -> str:
    cells = [" "] * AXIS_WIDTH
    zero = _column(0.0, half)
    if row.low is not None and row.high is not None:
        left, right = _column(row.low, half), _column(row.high, half)
        for index in range(left, right + 1):
            cells[index] = "─"
        cells[left], cells[right] = "├", "┤"
    cells[zero] = "┼" if cells[zero] == "─" else "│"
    for bound in row.bounds:
        cells[_column(bound, half)] = "║"
    cells[_column(row.point, half)] = "●"
    return "".join(cells)


def _column(value: float, half: float) -> int:
    middle = AXIS_WIDTH // 2
    offset = round(max(-1.0, min(1.0, value / half)) * middle)
    return middle + offset


def _numbers(row: Row) -> str:
    width = None if row.low is None or row.high is None else row.high - row.low
    decimals = numbers.decimals_for(width, fallback=1)
    point = numbers.fixed(row.point, decimals, signed=True) + "%"
    if width is None:
        return point
    low = numbers.fixed(row.low, decimals, signed=True)
    high = numbers.fixed(row.high, decimals, signed=True)
    return f"{point} [{low}%, {high}%]"
