"""Per-slice metric values: where does the challenger lose ground?"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ci_ml.comparison.metrics import (
    Metric,
    PredictionsLike,
    as_predictions,
    resolve_metric,
    score,
)
from ci_ml.comparison.significance import check_min_rows, clean


@dataclass(frozen=True)
class SliceResult:
    """One value of a slice column; values higher is better, delta = challenger - champion."""

    column: str | None
    value: Any
    n_rows: int
    challenger: float | None
    champion: float | None
    delta: float | None
    judged: bool
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        out = {k: clean(v) for k, v in self.__dict__.items()}
        out["value"] = None if pd.isna(self.value) else clean(self.value)
        return out


def slice_metrics(
    metric: Metric | str,
    y_true: Any,
    champion: PredictionsLike | None,
    challenger: PredictionsLike,
    slice_values: Any,
    min_rows: int = 30,
    column: str | None = None,
) -> list[SliceResult]:
    """One result per distinct value (missing values form their own slice).

    Judged slices come first, worst delta first (worst challenger value when
    there is no champion); slices too small or where the metric is undefined
    follow, largest first. Call once per slice column.
    """
    metric = resolve_metric(metric) if isinstance(metric, str) else metric
    y = np.asarray(y_true)
    chal = as_predictions(challenger)
    champ = None if champion is None else as_predictions(champion)
    uniques, groups = _groups(np.asarray(slice_values))
    results = [
        _one_slice(metric, y, champ, chal, rows, value, min_rows, column)
        for value, rows in zip(uniques, groups, strict=True)
    ]
    return order_slices(results)


def order_slices(results: list[SliceResult]) -> list[SliceResult]:
    """Judged slices first, worst delta first; the others after, largest first."""
    return sorted(results, key=_worst_first)


def _groups(values: np.ndarray) -> tuple[Any, list[np.ndarray]]:
    """Distinct values (sorted when comparable) and the rows of each, in one sort."""
    try:
        codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=False)
    except TypeError:  # mixed types: keep first-seen order
        codes, uniques = pd.factorize(values, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    return uniques, np.split(order, bounds)


def _worst_first(result: SliceResult) -> tuple[bool, float]:
    if not result.judged:
        return True, -result.n_rows
    key = result.delta if result.delta is not None else result.challenger
    return False, key if key is not None else np.inf


def _one_slice(
    metric: Metric,
    y: np.ndarray,
    champion: Any,
    challenger: Any,
    rows: np.ndarray,
    value: Any,
    min_rows: int,
    column: str | None,
) -> SliceResult:
    check = check_min_rows(len(rows), min_rows)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chal = score(metric, y[rows], challenger.take(rows))
            champ = None if champion is None else score(metric, y[rows], champion.take(rows))
        if not np.all(np.isfinite([chal] if champ is None else [chal, champ])):
            raise ValueError("the score is not a finite number")  # e.g. one class only
    except ValueError as exc:
        reason = f"{metric.name} is undefined on this slice: {exc}"
        return SliceResult(column, value, len(rows), None, None, None, False, reason)
    delta = None if champ is None else chal - champ
    return SliceResult(column, value, len(rows), chal, champ, delta, check.judged, check.reason)
