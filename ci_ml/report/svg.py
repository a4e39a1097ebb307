"""Small inline SVG charts drawn by hand: report.html needs no plotting library or network."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from ci_ml.report import forest, numbers
from ci_ml.report.curves import Curve, Series

WIDTH, HEIGHT = 340, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 34, 46
COLORS = {"champion": "#8c8c8c", "baseline": "#8c8c8c", "challenger": "#1f6feb"}
UNIT_AXES = ("roc", "precision_recall", "calibration")


@dataclass(frozen=True)
class Frame:
    """Maps data to pixels inside the plot area."""

    x_low: float
    x_high: float
    y_low: float
    y_high: float

    def px(self, x: float) -> float:
        span = (self.x_high - self.x_low) or 1.0
        return LEFT + (x - self.x_low) / span * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        span = (self.y_high - self.y_low) or 1.0
        return HEIGHT - BOTTOM - (y - self.y_low) / span * (HEIGHT - TOP - BOTTOM)


def curve_chart(curve: Curve) -> str:
    frame = _frame(curve)
    body = [_axes(frame, curve.x_label, curve.y_label), _reference(curve, frame)]
    ordered = sorted(curve.series, key=lambda s: s.role == "challenger")
    body += [_series(curve.kind, s, frame) for s in ordered]
    return _svg(curve.title, [*body, _legend(curve, ordered)])


def _frame(curve: Curve) -> Frame:
    if curve.kind in UNIT_AXES:
        return Frame(0.0, 1.0, 0.0, 1.0)
    xs = [x for s in curve.series for x in s.x]
    ys = [y for s in curve.series for y in s.y]
    if curve.kind == "residuals":
        step = (xs[1] - xs[0]) / 2 if len(xs) > 1 else 0.5
        return Frame(min(xs) - step, max(xs) + step, 0.0, _nice(max(ys)))
    low, high = min(xs + ys), max(xs + ys)  # predicted vs actual: one scale, so y = x is 45°
    pad = (high - low) * 0.05 or 1.0
    return Frame(low - pad, high + pad, low - pad, high + pad)


def _nice(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(
        s * magnitude for s in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if value <= s * magnitude
    )


def _ticks(low: float, high: float) -> list[float]:
    """Round numbers inside [low, high]: steps of 1, 2 or 5 times a power of ten."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude)
    first = math.ceil(low / step - 1e-9) * step
    count = math.floor((high - first) / step + 1e-9) + 1
    return [round(first + i * step, 10) for i in range(count)]


def _axes(frame: Frame, x_label: str, y_label: str) -> str:
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{HEIGHT - TOP - BOTTOM}" fill="#fff" stroke="#d0d7de"/>'
    ]
    for x in _ticks(frame.x_low, frame.x_high):
        parts.append(
            f'<text x="{frame.px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(numbers.general(x))}</text>"
        )
    for y in _ticks(frame.y_low, frame.y_high):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{frame.py(y):.1f}" y2="{frame.py(y):.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{LEFT - 6}" y="{frame.py(y) + 4:.1f}" text-anchor="end">'
            f"{escape(numbers.general(y))}</text>"
        )
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return "".join(parts)


def _reference(curve: Curve, frame: Frame) -> str:
    """The line a useless (ROC) or perfectly calibrated / perfect (others) model would draw."""
    if curve.kind not in ("roc", "calibration", "predicted_vs_actual"):
        return ""
    low, high = max(frame.x_low, frame.y_low), min(frame.x_high, frame.y_high)
    return (
        f'<line x1="{frame.px(low):.1f}" y1="{frame.py(low):.1f}" x2="{frame.px(high):.1f}" '
        f'y2="{frame.py(high):.1f}" stroke="#bbb" stroke-dasharray="4 4"/>'
    )


def _series(kind: str, series: Series, frame: Frame) -> str:
    color = COLORS.get(series.role, "#000")
    if kind == "predicted_vs_actual":
        return "".join(
            f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="2.2" fill="{color}" '
            'fill-opacity="0.55"/>'
            for x, y in zip(series.x, series.y, strict=False)
        )
    if kind == "residuals":
        return _bars(series, frame, color)
    points = " ".join(
        f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in zip(series.x, series.y, strict=False)
    )
    marks = (
        "".join(
            f'<circle cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="3" fill="{color}"/>'
            for x, y in zip(series.x, series.y, strict=False)
        )
        if kind == "calibration"
        else ""
    )
    return f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>{marks}'


def _bars(series: Series, frame: Frame, color: str) -> str:
    """Histogram bars from zero, half-transparent so both models show where they overlap."""
    step = series.x[1] - series.x[0] if len(series.x) > 1 else 1.0
    return "".join(
        f'<rect x="{frame.px(x - step / 2):.1f}" y="{frame.py(y):.1f}" '
        f'width="{frame.px(x + step / 2) - frame.px(x - step / 2):.1f}" '
        f'height="{frame.py(0) - frame.py(y):.1f}" fill="{color}" fill-opacity="0.45"/>'
        for x, y in zip(series.x, series.y, strict=False)
    )


def _legend(curve: Curve, ordered: list[Series]) -> str:
    parts = []
    for index, series in enumerate(ordered):
        label = series.role
        if series.summary is not None and curve.summary_name:
            label += f" ({curve.summary_name} {numbers.general(series.summary)})"
        y = TOP + 6 + index * 15
        parts.append(
            f'<rect x="{LEFT + 8}" y="{y}" width="10" height="10" fill="{COLORS[series.role]}"/>'
            f'<text x="{LEFT + 22}" y="{y + 9}">{escape(label)}</text>'
        )
    return "".join(parts)


def _svg(title: str, body: list[str], width: int = WIDTH) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {HEIGHT}" '
        f'width="{width}" height="{HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="11" fill="#24292f">'
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">'
        f"{escape(title)}</text>{''.join(body)}</svg>"
    )


def bar_chart(
    title: str, labels: list[str], values: list[float], unit: str, line: float | None
) -> str:
    """Bars from zero (values are non-negative), an optional reference line across."""
    top = _nice(max([*values, line or 0.0, 1e-9]))
    frame = Frame(0.0, float(len(values)), 0.0, top)
    width = max(WIDTH, LEFT + RIGHT + 44 * len(values))
    slot = (width - LEFT - RIGHT) / max(1, len(values))
    parts = [_axes_y_only(frame, unit, width)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + index * slot
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{frame.py(value):.1f}" width="{slot * 0.7:.1f}" '
            f'height="{frame.py(0) - frame.py(value):.1f}" fill="#1f6feb"/>'
            f'<text transform="translate({x + slot / 2:.1f} {HEIGHT - BOTTOM + 10}) rotate(35)" '
            f'font-size="10">{escape(label)}</text>'
        )
    if line is not None:
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{frame.py(line):.1f}" '
            f'y2="{frame.py(line):.1f}" stroke="#cf222e" stroke-dasharray="5 3"/>'
        )
    return _svg(title, parts, width)


def _axes_y_only(frame: Frame, unit: str, width: int) -> str:
    parts = []
    for y in _ticks(frame.y_low, frame.y_high):
        parts.append(
            f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{frame.py(y):.1f}" y2="{frame.py(y):.1f}" '
            'stroke="#eaeef2"/>'
            f'<text x="{LEFT - 6}" y="{frame.py(y) + 4:.1f}" text-anchor="end">'
            f"{escape(numbers.general(y))}</text>"
        )
    parts.append(
        f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(unit)}</text>'
    )
    return "".join(parts)


def forest_chart(
    rows: list[forest.Row], half: float, level: float, against: str = "champion"
) -> str:
    """The forest plot as SVG: interval bars, points, gate bounds, zero, one shared axis."""
    name_width, row_height, width = 190, 26, 640
    height = TOP + 24 + row_height * len(rows) + 30

    def px(value: float) -> float:
        span = (width - name_width - 24) / (2 * half)
        return name_width + (max(-half, min(half, value)) + half) * span

    parts = [
        f'<line x1="{px(0):.1f}" x2="{px(0):.1f}" y1="{TOP + 10}" y2="{height - 30}" '
        'stroke="#57606a"/>'
    ]
    for value in _ticks(-half, half):
        parts.append(
            f'<text x="{px(value):.1f}" y="{height - 14}" text-anchor="middle">'
            f"{escape(numbers.general(value, signed=True))}%</text>"
        )
    parts.append(
        f'<text x="{name_width}" y="{TOP + 4}">← worse</text>'
        f'<text x="{width - 24}" y="{TOP + 4}" text-anchor="end">better →</text>'
    )
    for index, row in enumerate(rows):
        y = TOP + 28 + index * row_height
        parts.append(f'<text x="8" y="{y + 4}">{escape(row.name)}</text>')
        if row.low is not None and row.high is not None:
            parts.append(
                f'<line x1="{px(row.low):.1f}" x2="{px(row.high):.1f}" y1="{y}" y2="{y}" '
                'stroke="#1f6feb" stroke-width="3"/>'
            )
        for bound in row.bounds:
            parts.append(
                f'<line x1="{px(bound):.1f}" x2="{px(bound):.1f}" y1="{y - 9}" y2="{y + 9}" '
                'stroke="#cf222e" stroke-width="2"/>'
            )
        parts.append(f'<circle cx="{px(row.point):.1f}" cy="{y}" r="5" fill="#0a3069"/>')
    title = (
        f"Improvement over the {against}, % of its value ({level:.0%} interval; red: gate bound)"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" font-family="sans-serif" '
        f'font-size="12" fill="#24292f">'
        f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>'
        f"{''.join(parts)}</svg>"
    )
