"""Per-slice metrics from grouped sufficient statistics, on the runner or the cluster.

Each batch of eval rows is scored once (`batch_summary`): the scored rows give
the batch's summary (per-resample sums, largest losses) and, grouped by the
value of each `evaluation.slice_by` column (`EvaluationRequest.slice_by`), the
plain sums of each group (row 0 of `summaries`: every weight 1). Sums of a slice add up
across batches and partitions, so one float64 vector per slice value, never a
row, leaves a worker, beside the resample summary of the same pass. A slice's
metric is computed from its sums as the whole eval set's is: label metrics and
per-row losses equal the exact value to rounding (1e-9); ROC AUC and average
precision are binned, as everywhere under the Poisson bootstrap (see
`summaries`). Slices get point values, as locally: no per-slice interval.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ci_ml.comparison.significance import check_min_rows, clean
from ci_ml.comparison.slices import SliceResult, order_slices
from ci_ml.engines.summaries import (
    ScoredBatch,
    SliceSums,
    Summary,
    SummaryPlan,
    group_sums,
    point_values,
    score_batch,
    scored_summary,
)

Sums = SliceSums


def batch_summary(
    plan: SummaryPlan, frame: pd.DataFrame, models: Sequence[Any]
) -> tuple[Summary, Sums]:
    """The batch's summary (resample sums, top losses) and its slices' sums, scored once."""
    scored = score_batch(plan, frame, models)
    return scored_summary(plan, scored), batch_slices(plan, frame, scored)


def batch_slices(plan: SummaryPlan, frame: pd.DataFrame, scored: ScoredBatch) -> Sums:
    """The plain sums of each value of each `slice_by` column in one scored batch."""
    keys, groups = [], []
    for column in plan.request.slice_by:
        values = [_key(v) for v in frame[column].tolist()]
        codes, uniques = pd.factorize(pd.Series(values, dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
        keys += [(column, str(u)) for u in uniques]
        groups += np.split(order, bounds)
    if not groups:
        return {}
    return dict(zip(keys, group_sums(plan, scored, groups), strict=True))


def _key(value: Any) -> str:
    """A slice value as JSON (missing values: null, their own slice)."""
    return json.dumps(None if pd.isna(value) else clean(value))


def add(total: Sums, part: Sums) -> Sums:
    for key, sums in part.items():
        total[key] = total[key] + sums if key in total else sums
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
