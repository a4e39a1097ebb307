"""A compact, JSON-ready profile of training data, stored with the model.

Drift is computed against this profile, so the champion's raw training data is
never needed again. Per column (a few KB each):

- numeric: count, nulls, min/max/mean/std/median, 101 quantiles (0%, 1%, ..., 100%,
  each an observed value) with the empirical CDF at each, and 10 decile bins with
  their fractions (for PSI). Quantiles come from a seeded uniform sample of
  50,000 rows, so they are exact for smaller data and deterministic always.
- categorical (text, booleans, a classification target): the 200 most frequent
  categories with their counts, and the count of all others.
- empty: a column that was entirely null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ci_ml.errors import DataError
from ci_ml.validation.scan import as_numbers, is_text_type, open_source, refuse_nested
from ci_ml.validation.stats import (
    SAMPLE_ROWS,
    CategoryStats,
    NumericStats,
    RowSampler,
    as_python,
    bin_counts,
    quantiles,
    tidy,
)

PROFILE_FORMAT = "ci-ml-profile/1"
QUANTILE_POINTS = 101
PSI_BINS = 10
TOP_CATEGORIES = 200
TARGET_MAX_CLASSES = 20
KINDS = ("numeric", "categorical")


@dataclass
class ColumnAccumulator:
    """One column's statistics; its kind is settled by the first batch with a value."""

    name: str
    kind: str | None = None
    target: bool = False
    rows_before: int = 0
    numeric: NumericStats = field(default_factory=NumericStats)
    categories: CategoryStats = field(default_factory=CategoryStats)

    def update(
        self, array: pa.Array, chosen: np.ndarray, keys: np.ndarray, threshold: float
    ) -> np.ndarray | None:
        """Add one batch; returns the finite values of a numeric column."""
        if self.kind is None:
            refuse_nested(array, self.name)
            if array.null_count == len(array):
                self.rows_before += len(array)
                return None
            self.kind = guess_kind(array, self.target)
        if self.kind == "numeric":
            values, invalid = as_numbers(array)
            return self.numeric.update(values, invalid, chosen, keys, threshold)
        self.categories.update(array)
        return None


def guess_kind(array: pa.Array, target: bool = False) -> str:
    """numeric for numbers (and text that parses as numbers), categorical otherwise.

    A target with few integer classes is categorical: its drift is a change of class balance.
    """
    if pa.types.is_boolean(array.type) or pa.types.is_dictionary(array.type):
        return "categorical"
    numeric_type = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
    if not numeric_type and not is_text_type(array.type):
        return "categorical"
    try:
        values = as_numbers(array)[0] if numeric_type else _parsed(array)
    except pa.ArrowInvalid:
        return "categorical"
    if target and _few_classes(values):
        return "categorical"
    return "numeric"


def _parsed(text: pa.Array) -> np.ndarray:
    """Numbers in a text column; ArrowInvalid at the first word (cheaper than finding all)."""
    pc.cast(pc.drop_null(text).slice(0, 1000), pa.float64())  # a word is usually early
    return np.asarray(pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False))


def _few_classes(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    integral = bool(np.all(finite == np.round(finite)))
    return integral and len(np.unique(finite)) <= TARGET_MAX_CLASSES


def build_profile(
    data: Any,
    columns: list[str] | None = None,
    target: str | None = None,
    kinds: dict[str, str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Profile a CSV/Parquet file (or a DataFrame/Arrow table) for later drift checks.

    `columns` defaults to all; `target` is profiled too and marked, so its drift is
    reported apart from the features; `kinds` forces numeric/categorical per column.
    """
    source = open_source(data)
    names = list(columns or source.columns)
    if target is not None and target not in names:
        names.append(target)
    _check_present(names, source.columns, str(source.path))
    accumulators = _accumulators(names, target, kinds or {})
    sampler = RowSampler(SAMPLE_ROWS, seed)
    rows = scan_columns(source.batches(names), accumulators, sampler)
    threshold = sampler.finish()
    return {
        "format": PROFILE_FORMAT,
        "source": str(source.path),
        "rows": rows,
        "seed": seed,
        "target": target,
        "columns": {a.name: column_profile(a, threshold) for a in accumulators},
    }


def _check_present(wanted: list[str], present: list[str], where: str) -> None:
    missing = [name for name in wanted if name not in present]
    if missing:
        raise DataError(f"{where}: columns {missing} not found (it has {present})")


def _accumulators(
    names: list[str], target: str | None, kinds: dict[str, str]
) -> list[ColumnAccumulator]:
    return [ColumnAccumulator(name, kinds.get(name), name == target) for name in names]


def scan_columns(batches: Any, accumulators: list[ColumnAccumulator], sampler: RowSampler) -> int:
    """Feed every batch to every accumulator; returns the row count."""
    rows = 0
    for batch in batches:
        chosen, keys = sampler.draw(batch.num_rows)
        for accumulator in accumulators:
            accumulator.update(batch.column(accumulator.name), chosen, keys, sampler.threshold)
        rows += batch.num_rows
    return rows


def column_profile(accumulator: ColumnAccumulator, threshold: float) -> dict[str, Any]:
    """The JSON-ready profile of one column."""
    if accumulator.kind == "numeric":
        return numeric_profile(accumulator.numeric, threshold, accumulator.rows_before)
    if accumulator.kind == "categorical":
        return categorical_profile(accumulator.categories, accumulator.rows_before)
    rows = accumulator.rows_before
    return {"kind": "empty", "count": rows, "nulls": rows, "null_fraction": 1.0 if rows else 0.0}


def numeric_profile(
    stats: NumericStats, threshold: float, leading_nulls: int = 0
) -> dict[str, Any]:
    rows, nulls = stats.rows + leading_nulls, stats.nulls + leading_nulls
    sample = stats.sample(threshold)
    if not sample.size:
        return {"kind": "empty", "count": rows, "nulls": rows, "null_fraction": 1.0}
    points = quantiles(sample, QUANTILE_POINTS)
    points[0], points[-1] = stats.low, stats.high  # the true extremes, not the sample's
    step = (QUANTILE_POINTS - 1) // PSI_BINS
    edges = np.unique(points[step:-1:step])
    fractions = bin_counts(sample, edges) / sample.size
    return {
        "kind": "numeric",
        "count": rows,
        "nulls": nulls,
        "null_fraction": tidy(nulls / rows),
        "invalid": stats.invalid,
        "infinite": stats.infinite,
        "values": stats.n,
        "min": tidy(stats.low),
        "max": tidy(stats.high),
        "mean": tidy(stats.mean),
        "std": tidy(stats.std),
        "median": tidy(float(np.median(sample))),
        "sample_size": int(sample.size),
        "cdf_exact": bool(
            sample.size == stats.n and np.unique(points).size == np.unique(sample).size
        ),
        "quantiles": as_python(points),
        "cdf": as_python(np.searchsorted(sample, points, side="right") / sample.size),
        "bins": {"edges": as_python(edges), "fractions": as_python(fractions)},
    }


def categorical_profile(stats: CategoryStats, leading_nulls: int = 0) -> dict[str, Any]:
    rows, nulls = stats.rows + leading_nulls, stats.nulls + leading_nulls
    frequencies = stats.frequencies()
    top = dict(frequencies[:TOP_CATEGORIES])
    others = sum(count for _, count in frequencies[TOP_CATEGORIES:]) + stats.overflow
    return {
        "kind": "categorical",
        "count": rows,
        "nulls": nulls,
        "null_fraction": tidy(nulls / rows) if rows else 0.0,
        "values": rows - nulls,
        "distinct": stats.distinct,
        "categories": top,
        "other": others,
    }


def profile_values(
    values: Any, name: str = "prediction", kind: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """Profile one array (e.g. a model's predictions), as a one-column profile."""
    table = pa.table({name: pa.array(np.asarray(values))})
    return build_profile(table, [name], kinds={name: kind} if kind else None, seed=seed)
