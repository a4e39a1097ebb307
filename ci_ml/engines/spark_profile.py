"""The training profile and the drift statistics of new data, computed on the cluster.

Both sides of a drift check are the local engine's own statistics, taken where
the rows are (README, "When your data outgrows the runner", says what is exact):

- counts, nulls, values that are not numbers, infinities, mean, variance and
  extremes: each executor runs the local parsing (`scan.as_numbers`) and
  moments (`stats.NumericStats`) on its Arrow batches; partitions merge by
  Chan's formula. A current column's counts at and below each point of the
  reference's quantile grid are summed the same way. Exact.
- category counts: a Spark group-by, the CATEGORY_CAP most frequent kept, as
  the local engine keeps them. Exact up to the cap.
- quantiles, median, PSI bins and the Wasserstein distance come, as locally,
  from a sample of at most SAMPLE_ROWS rows: the rows with the smallest seeded
  xxhash64 of their values (the same rows however the data is partitioned).
  Up to SAMPLE_ROWS rows the sample is every row, so the local and the cluster
  profile are equal; beyond, both are uniform samples of that size but not the
  same rows, so sampled statistics differ by sampling noise (about
  1/sqrt(SAMPLE_ROWS) of a quantile's spread).

Only these summaries and the sample (never more than SAMPLE_ROWS rows) reach
the runner; the decision is the local engine's (`drift.judge_drift`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ci_ml.engines.sources import DataSource
from ci_ml.engines.spark_rules import merge_json_parts
from ci_ml.errors import EnvironmentProblem
from ci_ml.validation.drift import CurrentColumn, CurrentData
from ci_ml.validation.profile import (
    PROFILE_FORMAT,
    ColumnAccumulator,
    column_profile,
    guess_kind,
)
from ci_ml.validation.scan import as_numbers
from ci_ml.validation.stats import CATEGORY_CAP, SAMPLE_ROWS, CategoryStats, NumericStats

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ci_ml.engines.spark import SparkEngine

Batches = Iterator[pa.RecordBatch]
MOMENTS = ("rows", "nulls", "invalid", "infinite", "n", "mean", "m2", "low", "high")
SPARK_NUMBERS = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")


def cluster_profile(
    engine: SparkEngine, source: DataSource, columns: list[str], target: str | None, seed: int
) -> dict[str, Any]:
    """`build_profile` of the source, computed on the cluster."""
    names = list(dict.fromkeys([*columns, *([target] if target else [])]))
    frame, sample = _frame_and_sample(engine, source, names, seed)
    kinds = {name: _kind(frame, sample, name, name == target) for name in names}
    accumulators = {n: ColumnAccumulator(n, kinds[n], n == target) for n in names}
    _, rows = _fill(frame, sample, accumulators, {})
    return {
        "format": PROFILE_FORMAT,
        "source": source.label,
        "rows": rows,
        "seed": seed,
        "target": target,
        "columns": {n: column_profile(a, 1.0) for n, a in accumulators.items()},
    }


def cluster_current(
    engine: SparkEngine, source: DataSource, profile: dict[str, Any], names: list[str], seed: int
) -> CurrentData:
    """`drift.scan_current` of the source, computed on the cluster."""
    reference = profile["columns"]
    present = engine.columns(source)
    frame, sample = _frame_and_sample(engine, source, names, seed)
    current = {name: CurrentColumn(name, reference[name]) for name in names}
    for name, column in current.items():
        if column.kind is None:  # an all-null reference: the new data says what it is
            column.accumulator.kind = _kind(frame, sample, name, False)
    grids = {n: c.grid for n, c in current.items() if c.grid.size}
    found, rows = _fill(frame, sample, {n: c.accumulator for n, c in current.items()}, grids)
    for name, column in current.items():
        column.at_most, column.below = _grid_counts(found.get(name), column.grid)
    return CurrentData(current, rows, 1.0, present)


Found = dict[str, dict[str, Any]]  # per numeric column, its merged statistics


def _frame_and_sample(
    engine: SparkEngine, source: DataSource, names: list[str], seed: int
) -> tuple[DataFrame, pa.Table]:
    frame = engine.read(source)
    if not names:
        return frame, pa.table({})
    from pyspark.errors import PySparkException

    try:
        sample = engine.sampled(source, names, SAMPLE_ROWS, seed).toArrow()
    except PySparkException as exc:
        raise EnvironmentProblem(
            f"the Spark job that samples {source.label} failed: {exc}"
        ) from exc
    return frame.select(*names), sample


def _rows(frame: DataFrame) -> list[Any]:
    from ci_ml.engines.spark import collect_rows

    return collect_rows(frame, "profiles the data")


def _kind(frame: DataFrame, sample: pa.Table, name: str, target: bool) -> str | None:
    """As the local profile decides, from the sample's values; None when all null."""
    values = sample.column(name).combine_chunks().drop_null()
    if len(values):
        return guess_kind(values, target)
    if sample.num_rows < SAMPLE_ROWS:  # the sample is every row
        return None
    from pyspark.sql import functions as F

    if not _rows(frame.where(F.col(name).isNotNull()).limit(1)):
        return None
    spark_type = dict(frame.dtypes)[name]
    return "numeric" if spark_type.startswith(SPARK_NUMBERS) else "categorical"


def _fill(
    frame: DataFrame,
    sample: pa.Table,
    accumulators: dict[str, ColumnAccumulator],
    grids: dict[str, np.ndarray],
) -> tuple[Found, int]:
    """Each accumulator's statistics from the cluster, its sample from `sample`; the rows."""
    numeric = [n for n, a in accumulators.items() if a.kind == "numeric"]
    found, rows = numeric_summaries(frame, numeric, grids)
    for name, accumulator in accumulators.items():
        if accumulator.kind == "numeric":
            _numeric(accumulator.numeric, found[name], sample.column(name))
        elif accumulator.kind == "categorical":
            accumulator.categories = category_counts(frame, name)
        else:
            accumulator.rows_before = rows
    return found, rows


def _numeric(stats: NumericStats, found: dict[str, Any], sample: pa.ChunkedArray) -> None:
    for key in MOMENTS:
        setattr(stats, key, found[key])
    values = as_numbers(sample.combine_chunks())[0]
    stats.values, stats.keys, stats.held = [values], [np.zeros(len(values))], len(values)


# ---- numeric columns: the local parsing and moments, per batch on the executors -------


def numeric_summaries(
    frame: DataFrame, names: list[str], grids: dict[str, np.ndarray]
) -> tuple[Found, int]:
    """Merged moments (and grid counts) of the numeric columns, and the row count."""
    out: Found = {}
    parts = frame.mapInArrow(partition_moments(names, grids), "column string, found string")
    merged = parts.groupBy("column").applyInPandas(merge_partitions, "column string, found string")
    for row in _rows(merged):
        out[row["column"]] = json.loads(row["found"])
    rows = int(out.pop("", {}).get("rows", 0))
    return out, rows


def partition_moments(
    names: list[str], grids: dict[str, np.ndarray]
) -> Callable[[Batches], Batches]:
    """The executor side: per numeric column its moments, as the local scan takes them;
    the column "" carries the partition's row count."""
    wanted = {n: np.asarray(g, dtype=float) for n, g in grids.items()}

    def run(batches: Batches) -> Batches:
        found: dict[str, dict[str, Any]] = {"": {"rows": 0}}
        for batch in batches:
            found[""]["rows"] += batch.num_rows
            for name in names:
                part = batch_moments(batch.column(name), wanted.get(name))
                found[name] = merge_moments(found[name], part) if name in found else part
        yield pa.RecordBatch.from_pylist(
            [{"column": n, "found": json.dumps(f)} for n, f in found.items()]
        )

    return run


def batch_moments(array: pa.Array, grid: np.ndarray | None) -> dict[str, Any]:
    stats = NumericStats()
    values, invalid = as_numbers(array)
    empty = np.empty(0, dtype=np.int64)
    finite = stats.update(values, invalid, empty, np.empty(0), 1.0)
    out = {key: getattr(stats, key) for key in MOMENTS}
    if grid is not None:
        ordered = np.sort(finite)
        out["at_most"] = np.searchsorted(ordered, grid, side="right").tolist()
        out["below"] = np.searchsorted(ordered, grid, side="left").tolist()
    return out


def merge_moments(first: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Two parts' statistics added (moments by Chan's parallel formula)."""
    if "n" not in first:  # the row count
        return {"rows": first["rows"] + other["rows"]}
    out = {k: first[k] + other[k] for k in ("rows", "nulls", "invalid", "infinite", "n")}
    total = out["n"]
    delta = other["mean"] - first["mean"]
    share = other["n"] / total if total else 0.0
    out["mean"] = first["mean"] + delta * share
    out["m2"] = first["m2"] + other["m2"] + delta * delta * first["n"] * share
    out["low"], out["high"] = min(first["low"], other["low"]), max(first["high"], other["high"])
    for key in ("at_most", "below"):
        if key in first:
            out[key] = (np.asarray(first[key]) + np.asarray(other[key])).tolist()
    return out


def merge_partitions(frame: pd.DataFrame) -> pd.DataFrame:
    """One column's statistics from every partition, merged (a grouped shuffle's reducer)."""
    return merge_json_parts(frame, merge_moments)


def _grid_counts(found: dict[str, Any] | None, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if found is None or "at_most" not in found:
        zeros = np.zeros(len(grid), np.int64)
        return zeros, zeros.copy()
    return np.asarray(found["at_most"], np.int64), np.asarray(found["below"], np.int64)


# ---- categorical columns: a group-by ---------------------------------------------------


def category_counts(frame: DataFrame, name: str) -> CategoryStats:
    """Rows, nulls and the CATEGORY_CAP most frequent categories (the rest: overflow)."""
    from pyspark.sql import functions as F

    column = F.col(name)
    totals = _rows(frame.agg(F.count(F.lit(1)), F.sum(column.isNull().cast("long"))))[0]
    counts = frame.where(column.isNotNull()).groupBy(name).count()
    top = _rows(counts.orderBy(F.desc("count"), name).limit(CATEGORY_CAP))
    stats = CategoryStats(rows=int(totals[0]), nulls=int(totals[1] or 0))
    values = pa.array([row[0] for row in top])
    text = values if pa.types.is_string(values.type) else values.cast(pa.string())
    kept = pa.array([int(row[1]) for row in top], pa.int64())
    stats.merged = pa.table({"value": text, "count": kept})
    stats.overflow = stats.rows - stats.nulls - int(sum(kept.to_pylist()))
    return stats
