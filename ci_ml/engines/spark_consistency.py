"""The train/eval consistency checks' offending rows, found on the cluster.

Number columns: each executor runs the local check (`consistency.not_finite`) on
its Arrow batches, as pandas sees them when it reads the file, and returns per
column a count and its first five rows (numbered within their file, as the
schema rules number them, see spark_rules); partitions merge by a grouped
shuffle. Unseen classes: the eval rows whose target is not among the training
rows' targets, by an anti-join on the cluster; the runner receives their count,
their first five rows and at most CLASS_CAP of their distinct classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ci_ml.engines.spark_rules import FILE, ROW, merge_json_parts, names_files, with_row_numbers
from ci_ml.validation.consistency import MAX_EXAMPLES, Offenders, not_finite

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ci_ml.engines.sources import DataSource
    from ci_ml.engines.spark import SparkEngine

Batches = Iterator[pa.RecordBatch]
Found = dict[str, Any]  # {"count": n, "examples": [[file, row, value], ...]} of one column
CLASS_CAP = 1000
# the Spark types pandas reads as numbers (a decimal reaches pandas as objects, not numbers)
NUMBER_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double")
TEXT, NUMBER = "text", "number"


def number_columns(frame: DataFrame) -> list[str]:
    """The columns of a number type, as the local check sees them (booleans are not)."""
    return [name for name, kind in frame.dtypes if kind in NUMBER_TYPES]


def not_finite_rows(
    engine: SparkEngine, source: DataSource, columns: list[str]
) -> dict[str, Offenders]:
    """Per column with any, the values that are not finite numbers (text, infinities)."""
    if not columns:
        return {}
    frame = with_row_numbers(engine.read(source)).select(*columns, FILE, ROW)
    schema = "column string, found string"
    parts = frame.mapInArrow(partition_not_finite(columns), schema)
    merged = parts.groupBy("column").applyInPandas(merge_partitions, schema)
    named = names_files(source)
    return {r["column"]: offenders(json.loads(r["found"]), named) for r in _rows(merged)}


def partition_not_finite(columns: list[str]) -> Callable[[Batches], Batches]:
    """The executor side: per column, the partition's count and first rows."""

    def run(batches: Batches) -> Batches:
        found: dict[str, Found] = {}
        for batch in batches:
            for name, part in batch_not_finite(batch, columns).items():
                found[name] = merge(found[name], part) if name in found else part
        if found:
            yield pa.RecordBatch.from_pylist(
                [{"column": n, "found": json.dumps(f)} for n, f in found.items()]
            )

    return run


def batch_not_finite(batch: pa.RecordBatch, columns: list[str]) -> dict[str, Found]:
    files, rows = batch.column(FILE).to_pylist(), batch.column(ROW).to_pylist()
    out = {}
    for name in columns:
        bad = not_finite(batch.column(name).to_pandas())
        if len(bad):
            head = bad.head(MAX_EXAMPLES).items()
            examples = [[files[i], rows[i], str(value)] for i, value in head]
            out[name] = {"count": len(bad), "examples": examples}
    return out


def merge(first: Found, other: Found) -> Found:
    """Two parts' counts added; the first rows kept in file and row order."""
    examples = sorted(first["examples"] + other["examples"], key=_order)
    return {"count": first["count"] + other["count"], "examples": examples[:MAX_EXAMPLES]}


def _order(example: list[Any]) -> tuple[str, int]:
    return example[0] or "", -1 if example[1] is None else example[1]


def merge_partitions(frame: pd.DataFrame) -> pd.DataFrame:
    """One column's parts from every partition, merged (a grouped shuffle's reducer)."""
    return merge_json_parts(frame, merge)


def offenders(found: Found, named: bool) -> Offenders:
    """The runner's record of a merged count: rows name their file where there are many."""
    examples = []
    for file, row, value in found["examples"]:
        examples.append({"row": row, "value": value} | ({"file": file} if named else {}))
    return Offenders(found["count"], examples)


# ---- classes the training rows never have ----------------------------------------------


def unseen_classes(
    engine: SparkEngine, train: DataSource, held: DataSource, target: str
) -> tuple[list[str], Offenders, str] | None:
    """The eval rows of classes no training row has: their classes as text (at most
    CLASS_CAP, and a note saying so when there are more), their count, their first rows."""
    known = _present(engine.read(train).select(target), target).distinct()
    rows = _present(with_row_numbers(engine.read(held)).select(target, FILE, ROW), target)
    comparable = _kind(known, target) == _kind(rows, target)
    # pandas never finds a number equal to a text; Spark would cast one to the other
    unseen = rows.join(known, on=target, how="left_anti") if comparable else rows
    count = int(_rows(unseen.groupBy().count())[0][0])
    if not count:
        return None
    first = _rows(unseen.orderBy(FILE, ROW).limit(MAX_EXAMPLES))
    found = {"count": count, "examples": [[r[FILE], r[ROW], str(r[target])] for r in first]}
    classes, note = _classes(unseen, target)
    return classes, offenders(found, names_files(held)), note


def _classes(unseen: DataFrame, target: str) -> tuple[list[str], str]:
    from pyspark.sql import functions as F

    distinct = unseen.select(target).distinct()
    rows = _rows(distinct.orderBy(F.col(target).cast("string")).limit(CLASS_CAP + 1))
    classes = [str(r[0]) for r in rows[:CLASS_CAP]]
    if len(rows) <= CLASS_CAP:
        return classes, ""
    shown = f"the first {CLASS_CAP:,} in Spark's text order"
    return classes, f" (more than {CLASS_CAP:,} such classes; shown from {shown})"


def _present(frame: DataFrame, target: str) -> DataFrame:
    """Rows whose target is there: not null and, for a float, not NaN (pandas' missing)."""
    from pyspark.sql import functions as F

    column = F.col(target)
    if dict(frame.dtypes)[target] in ("float", "double"):
        return frame.where(column.isNotNull() & ~F.isnan(column))
    return frame.where(column.isNotNull())


def _kind(frame: DataFrame, target: str) -> str:
    kind = dict(frame.dtypes)[target]
    if kind in NUMBER_TYPES or kind.startswith("decimal") or kind == "boolean":
        return NUMBER
    return TEXT if kind == "string" else kind


def _rows(frame: DataFrame) -> list[Any]:
    from ci_ml.engines.spark import collect_rows

    return collect_rows(frame, "checks the train and eval rows against each other")
