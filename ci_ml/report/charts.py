"""Mermaid xychart blocks that GitHub renders in a comment: no image host.

Mermaid draws a bar up from the y-axis minimum, so every bar chart here has its
axis start at zero and only non-negative bars; changes, which can be negative,
go to the text forest plot instead. Long x labels are shortened and listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ci_ml.report.curves import Curve, Series

CHAMPION_COLOR, CHALLENGER_COLOR = "#8c8c8c", "#1f6feb"
LABEL_CHARS = 12  # longer x labels are clipped by Mermaid; shortened, then listed


def _palette(colors: list[str]) -> str:
    inner = ", ".join(colors)
    return '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "' + inner + '"}}}}%%'


@dataclass(frozen=True)
class Labels:
    shown: list[str]
    legend: str  # "" when no label had to be shortened


def short_labels(names: list[str]) -> Labels:
    """Names of at most LABEL_CHARS characters, unique; a legend for the shortened ones."""
    shown, notes = [], []
    for index, name in enumerate(names, start=1):
        if len(name) <= LABEL_CHARS:
            shown.append(name)
            continue
        short = f"{name[: LABEL_CHARS - 3]}…{index}"
        shown.append(short)
        notes.append(f"{short} = {name}")
    return Labels(shown, "; ".join(notes))


def _quote(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _values(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


def bar_chart(title: str, labels: list[str], values: list[float], unit: str) -> str:
    """Bars from zero: negative values are refused, as Mermaid would draw them upwards."""
    if any(v < 0 for v in values):
        raise ValueError("a Mermaid bar chart cannot show negative values truthfully")
    top = max(1.0, *values) * 1.1
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta",
            f"  title {_quote(title)}",
            f"  x-axis [{', '.join(_quote(label) for label in labels)}]",
            f"  y-axis {_quote(unit)} 0 --> {top:.3g}",
            f"  bar {_values(values)}",
            "```",
        ]
    )


def line_chart(curve: Curve) -> str:
    """Champion (grey) and challenger (blue) lines over the curve's evenly spaced x."""
    ordered = _ordered(curve)
    xs = curve.series[0].x
    tops = [max(s.y) for s in curve.series if s.y]
    top = 1.0 if curve.kind in ("roc", "precision_recall") else max(tops or [1.0]) * 1.1
    lines = [
        "```mermaid",
        _palette([CHAMPION_COLOR if s.role != "challenger" else CHALLENGER_COLOR for s in ordered]),
        "xychart-beta",
        f"  title {_quote(curve.title)}",
        f"  x-axis {_quote(curve.x_label)} {xs[0]:.4g} --> {xs[-1]:.4g}",
        f"  y-axis {_quote(curve.y_label)} 0 --> {top:.3g}",
    ]
    lines += [f"  line {_values(s.y)}" for s in ordered]
    return "\n".join([*lines, "```"])


def _ordered(curve: Curve) -> list[Series]:
    """Champion first so it takes the palette's first (grey) colour."""
    return sorted(curve.series, key=lambda s: s.role == "challenger")


def legend(curve: Curve) -> str:
    others = [s.role for s in _ordered(curve) if s.role != "challenger"]
    parts = [f"grey: {role}" for role in others[:1]]
    parts.append("blue: challenger" if others else "the challenger")
    summaries = [f"{s.role} {s.summary:.3g}" for s in _ordered(curve) if s.summary is not None]
    tail = (
        f" · {curve.summary_name}: {', '.join(summaries)}"
        if summaries and curve.summary_name
        else ""
    )
    return ", ".join(parts) + tail
