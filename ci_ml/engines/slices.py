"""Per-slice metrics from grouped sufficient statistics, on the runner or the cluster.

Each batch of eval rows is scored once; its rows are grouped by the value of
each `evaluation.slice_by` column and each group reduced to the plain sums of
the evaluation's summary plan (row 0 of `summaries`: every weight 1). Sums of
a slice add up across batches and partitions, so one float64 vector per slice
value, never a row, leaves a worker. A slice's metric is computed from its sums
as the whole eval set's is: label metrics and per-row losses equal the exact
value to rounding (1e-9); ROC AUC and average precision are binned, as
everywhere under the Poisson bootstrap (see `summaries`). Slices get point
values, as locally: no per-slice interval.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ci_ml.comparison.significance import check_min_rows, clean
from ci_ml.comparison.slices import SliceResult, order_slices
from ci_ml.engines.summaries import SummaryPlan, group_sums, point_values

if TYPE_CHECKING:
    from ci_ml.engines.sources import DataSource
    from ci_ml.engines.spark import SparkEngine

Sums = dict[tuple[str, str], np.ndarray]  # (slice column, value as JSON) -> plain sums
Batches = Iterator[pa.RecordBatch]
BATCH_ROWS = 65_536


def batch_slices(
    plan: SummaryPlan, frame: pd.DataFrame, models: Sequence[Any], columns: list[str]
) -> Sums:
    """The plain sums of each slice value in one batch (the batch scored once)."""
    keys, groups = [], []
    for column in columns:
        values = [_key(v) for v in frame[column].tolist()]
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
        keys += [(column, str(u)) for u in uniques]
        groups += np.split(order, bounds)
    sums = group_sums(plan, frame, models, groups)
    return dict(zip(keys, sums, strict=True))


def _key(value: Any) -> str:
    """A slice value as JSON (missing values: null, their own slice)."""
    return json.dumps(None if pd.isna(value) else clean(value))


def add(total: Sums, part: Sums) -> Sums:
    for key, sums in part.items():
        total[key] = total[key] + sums if key in total else sums
    return total


def local_slices(
    plan: SummaryPlan, frame: pd.DataFrame, models: Sequence[Any], columns: list[str]
) -> Sums:
    """The slices of rows in memory, batch by batch."""
    total: Sums = {}
    for start in range(0, len(frame), BATCH_ROWS):
        add(total, batch_slices(plan, frame.iloc[start : start + BATCH_ROWS], models, columns))
    return total


def slice_records(
    plan: SummaryPlan, sums: Sums, columns: list[str], metrics: list[str], min_rows: int
) -> list[dict[str, Any]]:
    """The evaluation record's `slices`, in the local engine's order and shape."""
    out: list[dict[str, Any]] = []
    for column in columns:
        found = sorted(((json.loads(v), s) for (c, v), s in sums.items() if c == column), key=_by)
        for metric in metrics:
            results = [_result(plan, metric, column, v, s, min_rows) for v, s in found]
            out.extend(r.to_dict() | {"metric": metric} for r in order_slices(results))
    return out


def _by(item: tuple[Any, np.ndarray]) -> tuple[bool, str, Any]:
    value = item[0]
    return value is None, type(value).__name__, value


def _result(
    plan: SummaryPlan, metric: str, column: str, value: Any, sums: np.ndarray, min_rows: int
) -> SliceResult:
    n_rows = round(float(sums[0]))
    values = [float(v) for v in point_values(plan, sums)[metric]]
    if not np.all(np.isfinite(values)):
        reason = f"{metric} is undefined on this slice: the score is not a finite number"
        return SliceResult(column, value, n_rows, None, None, None, False, reason)
    challenger = values[0]
    champion = values[1] if len(values) > 1 else None
    delta = None if champion is None else challenger - champion
    check = check_min_rows(n_rows, min_rows)
    return SliceResult(
        column, value, n_rows, challenger, champion, delta, check.judged, check.reason
    )


# ---- on the cluster ----------------------------------------------------------------------


def cluster_slices(
    engine: SparkEngine,
    source: DataSource,
    plan: SummaryPlan,
    models: Sequence[Any],
    columns: list[str],
) -> Sums:
    """The slices of a source scored on the executors; one row per slice value returns."""
    from ci_ml.engines.spark import check_shippable, collect_rows

    wanted = list(dict.fromkeys([*plan.request.columns, *columns]))
    frame = engine.read(source).select(*wanted)
    check_shippable(plan, models)
    schema = "column string, value string, stats binary"
    parts = frame.mapInArrow(partition_slices(plan, models, columns), schema)
    merged = parts.groupBy("column", "value").applyInPandas(sum_slices, schema)
    rows = collect_rows(merged, "computes the slices")
    return {(r["column"], r["value"]): np.frombuffer(r["stats"], np.float64) for r in rows}


def partition_slices(
    plan: SummaryPlan, models: Sequence[Any], columns: list[str]
) -> Callable[[Batches], Batches]:
    """The executor side: one row of sums per slice value seen in the partition."""
    shipped = list(models)

    def run(batches: Batches) -> Batches:
        total: Sums = {}
        for batch in batches:
            if batch.num_rows:
                add(total, batch_slices(plan, batch.to_pandas(), shipped, columns))
        if total:
            keys = list(total)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([c for c, _ in keys]),
                    pa.array([v for _, v in keys]),
                    pa.array([total[k].tobytes() for k in keys], pa.binary()),
                ],
                names=["column", "value", "stats"],
            )

    return run


def sum_slices(frame: pd.DataFrame) -> pd.DataFrame:
    """One slice value's sums from every partition, added."""
    total = np.sum([np.frombuffer(blob, dtype=np.float64) for blob in frame["stats"]], axis=0)
    first = frame.iloc[0]
    return pd.DataFrame(
        {"column": [first["column"]], "value": [first["value"]], "stats": [total.tobytes()]}
    )
