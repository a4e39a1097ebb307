"""Numbers as a reader should see them: the digits their interval justifies, never `-0`."""

from __future__ import annotations

import math

PERCENT_METRICS = {"mean_absolute_percentage_error"}  # fractions a reader thinks of as %


def decimals_for(width: float | None, fallback: int = 4) -> int:
    """Decimals that show an interval of this width to two significant digits."""
    if width is None or not math.isfinite(width) or width <= 0:
        return fallback
    return min(8, max(0, 1 - math.floor(math.log10(width))))


def fixed(value: float | None, decimals: int, signed: bool = False) -> str:
    """`value` with `decimals` decimals; a value that rounds to zero is `0`, never `-0`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        return "0"
    return f"+{text}" if signed and value > 0 else text


def general(value: float | None, signed: bool = False) -> str:
    """Four significant digits, for a number without an interval; no `-0`, no `e-11`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0 or abs(value) < 5e-5:
        return "0" if value == 0 else ("< 0.0001" if value > 0 else "> -0.0001")
    text = f"{value:.4g}"
    if "e" in text:
        text = f"{value:,.0f}"
    return f"+{text}" if signed and value > 0 else text


def percent(value: float | None, decimals: int = 1, signed: bool = True) -> str:
    """A fraction as a percentage; `0%` rather than `-0.0%` or `+0.0%`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fixed(100.0 * value, decimals, signed) + "%"


def p_value(value: float | None) -> str:
    if value is None:
        return "–"
    return "< 0.0001" if value < 1e-4 else f"{value:.2g}" if value < 0.01 else f"{value:.3g}"
