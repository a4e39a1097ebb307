"""The data schema's rules on the cluster: the local engine's checks, per Arrow batch.

Each executor runs the very column checks `validate_table` runs on the runner
(`validation.rules.ColumnCheck`) on its Arrow batches, so types, nullability,
ranges, allowed values, finiteness and patterns give the same failing-row
counts and the same wording. A partition returns one small tally per column
(counts, extremes, five example rows, five distinct values), tallies are merged
by a grouped shuffle, and the runner receives one per column. Rules that need
every row at once run as Spark aggregations: `unique` (values counted by a
group-by) and `duplicate_rows` (rows numbered within their group). Example
rows are numbered within their file (Spark's `_metadata.row_index`; the CSV
reader numbers no rows, so there they are None) and name the file when the
source is a folder. Nothing here imports pyspark at module level except
through the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ci_ml.engines.sources import DataSource
from ci_ml.validation.rules import (
    MAX_EXAMPLES,
    ColumnCheck,
    RuleFailure,
    ValidationResult,
    assemble,
    duplicate_rows_failures,
    forbids_duplicates,
    unique_failure,
)
from ci_ml.validation.schema import NUMERIC_TYPES, DataSchema

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from ci_ml.engines.spark import SparkEngine

FILE, ROW = "_ci_ml_file", "_ci_ml_row"
Batches = Iterator[pa.RecordBatch]
Found = dict[str, Any]  # one column's tally: rows, nulls, and per rule what failed


def check_rules(engine: SparkEngine, source: DataSource, schema: DataSchema) -> ValidationResult:
    """`validate_table` of the source, computed on the cluster."""
    from pyspark.sql import functions as F

    frame = with_row_numbers(engine.read(source))
    columns = [c for c in frame.columns if c not in (FILE, ROW)]
    present = [name for name in schema.columns if name in columns]
    named = names_files(source)
    found = column_tallies(frame, schema, present)
    failures: list[RuleFailure] = []
    for name in present:
        check = _restored(schema, name, found.get(name), named)
        failures += check.failures()
        failures += _unique(frame, check, named)
    rows = int(_rows(frame.agg(F.count(F.lit(1))))[0][0])
    repeated = _duplicate_rows(frame, schema, columns, named)
    return assemble(schema, source.label, rows, columns, failures, repeated)


def _rows(frame: DataFrame) -> list[Any]:
    from ci_ml.engines.spark import collect_rows

    return collect_rows(frame, "checks the data schema's rules")


def with_row_numbers(frame: DataFrame) -> DataFrame:
    """The rows with their file and their row number in it (None where not numbered)."""
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    try:
        numbered = frame.select(
            "*", F.col("_metadata.file_name").alias(FILE), F.col("_metadata.row_index").alias(ROW)
        )
        numbered.schema  # noqa: B018 - resolves the plan: does the reader number rows?
        return numbered
    except PySparkException:
        pass
    try:
        named = frame.select("*", F.col("_metadata.file_name").alias(FILE))
        named.schema  # noqa: B018
    except PySparkException:
        named = frame.select("*", F.lit(None).cast("string").alias(FILE))
    return named.withColumn(ROW, F.lit(None).cast("long"))


def names_files(source: DataSource) -> bool:
    """Examples name their file unless the source is one local file."""
    return not (source.kind == "path" and Path(source.location).is_file())


# ---- the column checks, per batch on the executors ------------------------------------


def column_tallies(frame: DataFrame, schema: DataSchema, names: list[str]) -> dict[str, Found]:
    """Per column, the tallies of every partition merged (one row each reaches the runner)."""
    if not names:
        return {}
    parts = frame.select(*names, FILE, ROW).mapInArrow(
        partition_checks(schema, names), "column string, found string"
    )
    merged = parts.groupBy("column").applyInPandas(merge_partitions, "column string, found string")
    rows = _rows(merged)
    return {row["column"]: json.loads(row["found"]) for row in rows}


def partition_checks(schema: DataSchema, names: list[str]) -> Callable[[Batches], Batches]:
    """The executor side: every batch through the local checks, one tally per column."""

    def run(batches: Batches) -> Batches:
        found: dict[str, Found] = {}
        for batch in batches:
            for name in names:
                part = batch_tally(schema, name, batch)
                found[name] = merge(found[name], part) if name in found else part
        if found:
            rows = [{"column": n, "found": json.dumps(f)} for n, f in found.items()]
            yield pa.RecordBatch.from_pylist(rows)

    return run


def batch_tally(schema: DataSchema, name: str, batch: pa.RecordBatch) -> Found:
    """One column of one batch, checked as `validate_table` checks it."""
    check = ColumnCheck(schema.columns[name])
    check.update(batch.column(name), 0)
    files, rows = batch.column(FILE).to_pylist(), batch.column(ROW).to_pylist()
    rules = {}
    for rule, tally in check.tallies.items():
        if tally.count:
            examples = [[files[r], rows[r], value] for r, value in tally.examples]
            rules[rule] = {
                "count": tally.count,
                "examples": examples,
                "low": tally.low,
                "high": tally.high,
                "distinct": tally.distinct,
            }
    return {"rows": check.rows, "nulls": check.nulls, "rules": rules}


def merge(first: Found, other: Found) -> Found:
    """Two tallies of one column added; examples and distinct values stay in row order."""
    if _first_row(other) < _first_row(first):
        first, other = other, first
    rules = dict(first["rules"])
    for name, entry in other["rules"].items():
        rules[name] = _merge_rule(rules[name], entry) if name in rules else entry
    return {"rows": first["rows"] + other["rows"], "nulls": first["nulls"] + other["nulls"]} | {
        "rules": rules
    }


def _merge_rule(first: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    examples = sorted(first["examples"] + other["examples"], key=_example_order)
    distinct = list(dict.fromkeys([*first["distinct"], *other["distinct"]]))
    return {
        "count": first["count"] + other["count"],
        "examples": examples[:MAX_EXAMPLES],
        "low": min(first["low"], other["low"]),
        "high": max(first["high"], other["high"]),
        "distinct": distinct[:MAX_EXAMPLES],
    }


def _example_order(example: list[Any]) -> tuple[str, int]:
    return example[0] or "", -1 if example[1] is None else example[1]


def _first_row(found: Found) -> tuple[str, int]:
    examples = [e for entry in found["rules"].values() for e in entry["examples"]]
    return min((_example_order(e) for e in examples), default=("\uffff", 0))


def merge_partitions(frame: pd.DataFrame) -> pd.DataFrame:
    """One column's tallies from every partition, merged (a grouped shuffle's reducer)."""
    return merge_json_parts(frame, merge)


def merge_json_parts(frame: pd.DataFrame, merge_two: Callable[[Any, Any], Any]) -> pd.DataFrame:
    """One column's JSON parts (the `found` of each partition) folded with `merge_two`:
    the reducer the rules, the profile and the consistency checks share."""
    parts = [json.loads(text) for text in frame["found"]]
    total = parts[0]
    for part in parts[1:]:
        total = merge_two(total, part)
    return pd.DataFrame({"column": [frame["column"].iloc[0]], "found": [json.dumps(total)]})


def _restored(schema: DataSchema, name: str, found: Found | None, named: bool) -> ColumnCheck:
    """The runner's ColumnCheck holding the merged tallies: its failures read the same."""
    check = ColumnCheck(schema.columns[name])
    if found is None:
        return check
    check.rows, check.nulls = found["rows"], found["nulls"]
    for rule, entry in found["rules"].items():
        tally = check.tallies[rule]
        tally.count, tally.low, tally.high = entry["count"], entry["low"], entry["high"]
        tally.distinct = entry["distinct"]
        tally.examples = [_example(e, named) for e in entry["examples"]]
    return check


def _example(example: list[Any], named: bool) -> tuple[Any, ...]:
    file, row, value = example
    return (row, value, file) if named else (row, value)


# ---- the rules that need every row at once ---------------------------------------------


def _unique(frame: DataFrame, check: ColumnCheck, named: bool) -> list[RuleFailure]:
    """`unique`: every row whose value occurs more than once, counted by a group-by."""
    from pyspark.sql import functions as F

    rule = check.spec.rules.get("unique")
    if rule is None or not rule.value or check.kind == "bool":
        return []
    values = frame.select(_unique_value(check).alias("v"), FILE, ROW).where(F.col("v").isNotNull())
    repeated = values.groupBy("v").count().where(F.col("count") > 1)
    total = _rows(repeated.agg(F.sum("count")))[0][0]
    if not total:
        return []
    first = values.join(repeated.select("v"), "v", "left_semi").orderBy(FILE, ROW)
    rows = _rows(first.limit(MAX_EXAMPLES))
    examples = [_example([r[FILE], r[ROW], r["v"]], named) for r in rows]
    return [unique_failure(check.spec.name, rule, int(total), examples)]


def _unique_value(check: ColumnCheck) -> Column:
    """The value `unique` compares: the number (NaN left out), else the text."""
    from pyspark.sql import functions as F

    column = F.col(check.spec.name)
    if check.kind not in NUMERIC_TYPES:
        return column.cast("string")
    number = F.expr(f"try_cast(trim(cast(`{check.spec.name}` as string)) as double)")
    return F.when(~F.isnan(number), number)


def _duplicate_rows(
    frame: DataFrame, schema: DataSchema, columns: list[str], named: bool
) -> list[RuleFailure]:
    """`duplicate_rows: forbid`: rows equal to an earlier one (in file and row order)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not forbids_duplicates(schema):
        return []
    order = Window.partitionBy(*columns).orderBy(FILE, ROW)
    later = frame.withColumn("_ci_ml_n", F.row_number().over(order)).where("_ci_ml_n > 1")
    count = int(_rows(later.agg(F.count(F.lit(1))))[0][0])
    shown = _rows(later.orderBy(FILE, ROW).limit(MAX_EXAMPLES)) if count else []
    rows = [(r[ROW], r[FILE]) if named else (r[ROW],) for r in shown]
    return duplicate_rows_failures(schema.table["duplicate_rows"], count, rows)
