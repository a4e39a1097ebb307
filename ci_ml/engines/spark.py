"""The Spark engine: the heavy passes on a cluster, through Spark Connect.

Imported only when `engine: spark` (it needs `pip install 'ci-ml[spark]'`).
Models and the summary plan travel to the executors inside the mapInArrow
function; the `ci_ml` package and the team's own estimator modules travel as
zip artifacts (see `shipping`), so executors need only numpy, pandas, pyarrow
and scikit-learn (and any installed library the estimator uses). Each batch is scored
once; only summaries come back: per resample one float64 vector, per model of each
moment metric its largest losses with their row keys, and per value of each `slice_by`
column one vector of plain sums, merged over partitions by a small shuffle.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa

import ci_ml
from ci_ml.engines.moments import TopLosses
from ci_ml.engines.settings import DEFAULT_CONF, SparkSettings
from ci_ml.engines.shipping import ci_ml_zip, team_zip
from ci_ml.engines.slices import Sums, add, batch_summary
from ci_ml.engines.sources import (
    DataSource,
    Fingerprint,
    delta_log_version,
    listing_fingerprint,
    table_version_fingerprint,
)
from ci_ml.engines.sparkml import score_pipelines
from ci_ml.engines.summaries import (
    EngineEvaluation,
    EvaluationRequest,
    Summary,
    SummaryPlan,
    finish,
    plan_summaries,
)
from ci_ml.environment import current, export_defaults
from ci_ml.errors import DataError, EnvironmentProblem

from pyspark.errors import PySparkException  # isort: skip
from pyspark.sql import DataFrame, SparkSession  # isort: skip
from pyspark.sql import functions as F  # isort: skip

# Spark Connect refuses plans over 128 MiB (spark.connect.grpc.maxInboundMessageSize)
MAX_SHIPPED_BYTES = 100 * 2**20
MAX_CLASSES = 10_000
CONNECT_TIMEOUT = 10.0


def public_url(remote: str) -> str:
    """The URL without its `;token=...` parameters, fit for a message."""
    return remote.split("/;", 1)[0]


class SparkEngine:
    """One Spark Connect session; `close()` stops it (and a local server)."""

    name = "spark"

    def __init__(self, settings: SparkSettings) -> None:
        self.settings = settings
        self.remote = settings.remote or current().spark_remote or "local[2]"
        self.session = connect(self.remote, settings.conf)
        _ship_package(self.session)

    def close(self) -> None:
        self.session.stop()

    @property
    def connect_url(self) -> str:
        """Where a team's own Spark job (`model.command`) reaches this same cluster."""
        if self.remote.startswith("sc://"):
            return self.remote
        builder = self.session.client._builder  # the local server's host:port
        return f"sc://{getattr(builder, 'endpoint', builder.host)}"

    def read(self, source: DataSource) -> DataFrame:
        """The source as a DataFrame; its schema is resolved now, so errors surface here."""
        try:
            frame = _reader(self.session, source)
            frame.schema  # noqa: B018 - resolves the plan: missing paths and type clashes
        except PySparkException as exc:
            raise _read_error(source, exc) from exc
        return frame

    def fingerprint(self, source: DataSource) -> Fingerprint:
        """The table's version where it has one (Delta), else the file listing."""
        if source.kind == "table" or source.format == "delta":
            version = self._table_version(source)
            if version is not None:
                return table_version_fingerprint(source.location, version)
        files = self.read(source).inputFiles()
        listing = (
            self.session.read.format("binaryFile")
            .load(list(files))
            .select("path", "length", F.col("modificationTime").cast("long"))
        )
        return listing_fingerprint([(r[0], int(r[1]), int(r[2])) for r in listing.collect()])

    def _table_version(self, source: DataSource) -> int | None:
        if source.kind == "path":  # a local Delta folder: its log says, no Spark job needed
            return delta_log_version(Path(source.location))
        name = source.location if source.kind == "table" else f"delta.`{source.location}`"
        try:
            row = self.session.sql(f"DESCRIBE HISTORY {name} LIMIT 1").collect()
        except PySparkException:
            return None  # not a Delta table: fall back to the file listing
        return int(row[0]["version"]) if row else None

    def evaluate(
        self, source: DataSource, request: EvaluationRequest, models: Sequence[Any]
    ) -> EngineEvaluation:
        """Poisson bootstrap of `models` (challenger first) on the cluster."""
        frame = self._columns(self.read(source), source, request.columns)
        frame, request, models = score_pipelines(frame, request, models)
        plan = plan_summaries(request, models, *self._target_summary(frame, request))
        check_shippable(plan, models)
        ship_team_modules(self.session, models)
        parts = frame.mapInArrow(partition_summaries(plan, models), SUMMARY_ROWS)
        merged = parts.groupBy("b", "column", "value").applyInPandas(sum_summaries, SUMMARY_ROWS)
        summary, slices = _gathered(plan, _collect(merged))
        return finish(plan, summary, self.name, slices)

    def columns(self, source: DataSource) -> list[str]:
        return list(self.read(source).columns)

    def count(self, source: DataSource) -> int:
        return int(self.read(source).count())

    def target_counts(self, source: DataSource, target: str) -> tuple[int, int, int]:
        """(rows, rows without a target, distinct targets) in one pass."""
        column = F.col(target)
        row = (
            self.read(source)
            .agg(F.count(F.lit(1)), F.sum(column.isNull().cast("long")), F.countDistinct(column))
            .collect()[0]
        )
        return int(row[0]), int(row[1] or 0), int(row[2])

    def sample(self, source: DataSource, columns: list[str], rows: int, seed: int) -> pd.DataFrame:
        """The `rows` rows with the smallest seeded hash of their values: the same rows
        however the data is partitioned, and only they reach the runner."""
        sample: pd.DataFrame = self.sampled(source, columns, rows, seed).toPandas()
        sample.attrs.clear()  # Spark's plan metrics: not data, and not JSON (to_parquet)
        return sample

    def sampled(self, source: DataSource, columns: list[str], rows: int, seed: int) -> DataFrame:
        """The plan of `sample` (collect it as pandas or Arrow)."""
        frame = self._columns(self.read(source), source, columns)
        order = F.xxhash64(F.lit(seed), *[F.col(c) for c in columns]).alias("_ci_ml_order")
        picked = frame.select(*columns, order).orderBy("_ci_ml_order", *columns).limit(rows)
        return picked.drop("_ci_ml_order")

    def _columns(self, frame: DataFrame, source: DataSource, columns: list[str]) -> DataFrame:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{source.label}: no column(s) {missing}; found {frame.columns}")
        return frame.select(*columns)

    def _target_summary(
        self, frame: DataFrame, request: EvaluationRequest
    ) -> tuple[Any, float, int]:
        """(distinct targets or None for regression, mean target, rows)."""
        if request.task != "classification":
            row = frame.agg(F.mean(request.target), F.count(F.lit(1))).collect()[0]
            return None, float(row[0] or 0.0), int(row[1])
        rows = frame.groupBy(request.target).count().limit(MAX_CLASSES + 1).collect()
        if len(rows) > MAX_CLASSES:
            raise DataError(f"{request.target}: more than {MAX_CLASSES} classes")
        return np.array(sorted(r[0] for r in rows)), 0.0, sum(int(r[1]) for r in rows)


def _collect(frame: DataFrame) -> list[Any]:
    return collect_rows(frame, "scores the eval rows")


def collect_rows(frame: DataFrame, job: str) -> list[Any]:
    """The job's rows; a failure Spark's retries did not mend is named, not a traceback."""
    try:
        return frame.collect()
    except PySparkException as exc:
        raise EnvironmentProblem(f"the Spark job that {job} failed: {_first_line(exc)}") from exc


def connect(remote: str, conf: dict[str, str]) -> SparkSession:
    """A Spark Connect session; a local[N] one starts a server with Java from the machine."""
    if remote.startswith("sc://"):
        _check_reachable(remote)
    else:
        export_defaults({"PYSPARK_PYTHON": sys.executable})
    builder = SparkSession.builder.remote(remote)
    for key, value in {**DEFAULT_CONF, **conf}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except (PySparkException, OSError, RuntimeError) as exc:
        hint = " (local Spark needs Java 17 or later on PATH)" if remote.startswith("local") else ""
        raise EnvironmentProblem(
            f"engine.spark.remote: cannot start a Spark Connect session at "
            f"{public_url(remote)}: {_first_line(exc)}{hint}"
        ) from exc


def _check_reachable(remote: str) -> None:
    """Fail in seconds, naming the URL, rather than after the client's retries."""
    parts = urlsplit(public_url(remote))
    host, port = parts.hostname or "localhost", parts.port or 15002
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise EnvironmentProblem(
            f"engine.spark.remote: cannot reach the Spark Connect server at "
            f"{public_url(remote)}: {exc.strerror or exc}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _ship_package(session: SparkSession) -> None:
    """ci_ml as a zip on the executors' path (a remote cluster does not have it)."""
    _add_pyfile(session, f"ci_ml-{ci_ml.__version__}-{os.getpid()}.zip", ci_ml_zip())


def ship_team_modules(session: SparkSession, models: Sequence[Any]) -> None:
    """The team's own estimator modules, which the executors need to unpickle the models."""
    found = team_zip(models)
    if found is not None:
        _add_pyfile(session, *found)


def _add_pyfile(session: SparkSession, name: str, blob: bytes) -> None:
    target = Path(tempfile.mkdtemp(prefix="ci-ml-")) / name
    target.write_bytes(blob)
    try:
        session.addArtifacts(str(target), pyfile=True)
    except PySparkException as exc:
        if "already exists" not in str(exc).lower():
            raise
    finally:
        target.unlink(missing_ok=True)
        target.parent.rmdir()


def _reader(session: SparkSession, source: DataSource) -> DataFrame:
    if source.kind == "table":
        return session.read.table(source.location)
    location = _spark_path(source)
    if source.format == "csv":
        return session.read.options(header=True, inferSchema=True).csv(location)
    if source.format == "delta":
        return session.read.format("delta").load(location)
    return session.read.option("mergeSchema", "true").parquet(location)


def _spark_path(source: DataSource) -> str:
    return str(Path(source.location).resolve()) if source.kind == "path" else source.location


def _read_error(source: DataSource, exc: PySparkException) -> Exception:
    condition = getattr(exc, "getCondition", lambda: None)() or ""
    text = _first_line(exc)
    if "NOT_FOUND" in condition or "not found" in text.lower() or "does not exist" in text:
        return EnvironmentProblem(f"{source.label}: Spark cannot find it ({text})")
    if "MERGE" in condition or "merge" in text.lower():
        return DataError(f"{source.label}: {_type_clash(str(exc))}")
    return EnvironmentProblem(f"{source.label}: Spark cannot read it: {text}")


def _type_clash(message: str) -> str:
    """Which column has which types, from CANNOT_MERGE_SCHEMAS' two schemas."""
    schemas = [dict(_fields(s)) for s in re.findall(r'"STRUCT<(.*?)>"', message)[:2]]
    if len(schemas) == 2:
        first, other = schemas
        for name, kind in other.items():
            if name in first and first[name] != kind:
                return f"column {name!r} is {first[name]} in some files and {kind} in others"
    return f"a column's type differs across files: {_first_line(Exception(message))}"


def _fields(struct: str) -> list[tuple[str, str]]:
    pairs = [field.split(": ", 1) for field in struct.split(", ") if ": " in field]
    return [(name.strip("`"), kind) for name, kind in pairs]


def check_shippable(
    plan: SummaryPlan, models: Sequence[Any], limit: int = MAX_SHIPPED_BYTES
) -> int:
    """The pickled size of what each task receives; refuse what Spark Connect would."""
    from pyspark import cloudpickle  # the copy Spark itself pickles tasks with

    size = len(cloudpickle.dumps((plan, list(models))))
    if size > limit:
        raise EnvironmentProblem(
            f"the models are {size / 2**20:.1f} MiB pickled; Spark Connect ships at most "
            f"{limit / 2**20:.0f} MiB with a task: save a smaller model, or score it with "
            "`model.command` on the cluster"
        )
    return size


Batches = Iterator[pa.RecordBatch]
# a partition's output: one row per resample b (column and value ""), one per model's top
# losses of each moment metric (b = TOP_ROW - j, j in slot-major order), and one per slice
# value seen (b = SLICE_ROW); stats: float64 sums, or TopLosses bytes
SUMMARY_ROWS = "b int, column string, value string, stats binary"
SLICE_ROW = -1
TOP_ROW = -2


def partition_summaries(plan: SummaryPlan, models: Sequence[Any]) -> Callable[[Batches], Batches]:
    """The executor side: each batch scored once; one row per resample, top-loss list and
    slice value."""
    shipped = list(models)

    def run(batches: Batches) -> Batches:
        total: Summary | None = None
        slices: Sums = {}
        for batch in batches:
            if batch.num_rows:
                part, found = batch_summary(plan, batch.to_pandas(), shipped)
                total = part if total is None else total + part
                add(slices, found)
        if total is not None:
            yield summary_rows(total, slices)

    return run


def summary_rows(total: Summary, slices: Sums) -> pa.RecordBatch:
    """A partition's summary (resample sums, top losses) and slice sums as SUMMARY_ROWS."""
    keys, n_plain = list(slices), len(total.sums) + len(total.tops)
    tops = [TOP_ROW - j for j in range(len(total.tops))]
    b = [*range(len(total.sums)), *tops, *[SLICE_ROW] * len(keys)]
    stats = [row.tobytes() for row in total.sums] + [t.to_bytes() for t in total.tops]
    stats += [slices[k].tobytes() for k in keys]
    return pa.RecordBatch.from_arrays(
        [
            pa.array(b, pa.int32()),
            pa.array([""] * n_plain + [c for c, _ in keys]),
            pa.array([""] * n_plain + [v for _, v in keys]),
            pa.array(stats, pa.binary()),
        ],
        names=["b", "column", "value", "stats"],
    )


def sum_summaries(frame: pd.DataFrame) -> pd.DataFrame:
    """One resample's (or slice value's) sums from every partition, added; or one
    model's top losses, merged (the largest kept)."""
    first = frame.iloc[0]
    b = int(first["b"])
    if b <= TOP_ROW:
        tops = [TopLosses.from_bytes(blob) for blob in frame["stats"]]
        stats = functools.reduce(TopLosses.merge, tops).to_bytes()
    else:
        blobs = frame["stats"]
        stats = np.sum([np.frombuffer(blob, dtype=np.float64) for blob in blobs], axis=0).tobytes()
    return pd.DataFrame(
        {"b": [b], "column": [first["column"]], "value": [first["value"]], "stats": [stats]}
    )


def _gathered(plan: SummaryPlan, rows: list[Any]) -> tuple[Summary, Sums]:
    """The merged rows of `sum_summaries` as one Summary and the slices' sums (no rows:
    the empty ones)."""
    empty = plan.empty()
    sums, tops, slices = empty.sums, list(empty.tops), {}
    for row in rows:
        b, blob = row["b"], row["stats"]
        if b >= 0:
            sums[b] = np.frombuffer(blob, dtype=np.float64)
        elif b == SLICE_ROW:
            slices[(row["column"], row["value"])] = np.frombuffer(blob, dtype=np.float64)
        else:
            tops[TOP_ROW - b] = TopLosses.from_bytes(blob)
    return Summary(sums, tuple(tops)), slices
