"""The local engine: the heavy passes on the runner, streamed with pyarrow."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ci_ml.engines.slices import Sums, add, batch_summary
from ci_ml.engines.sources import DataSource, Fingerprint, content_fingerprint, data_files
from ci_ml.engines.summaries import (
    EngineEvaluation,
    EvaluationRequest,
    SummaryPlan,
    finish,
    plan_summaries,
)
from ci_ml.errors import ConfigError, DataError

BATCH_ROWS = 65_536


class LocalEngine:
    """Reads local Parquet or CSV files (or folders of them) batch by batch."""

    name = "local"

    def fingerprint(self, source: DataSource) -> Fingerprint:
        return content_fingerprint(source)

    def evaluate(
        self, source: DataSource, request: EvaluationRequest, models: Sequence[Any]
    ) -> EngineEvaluation:
        """Poisson bootstrap of `models` (challenger first) on the rows of `source`."""
        dataset = open_dataset(source)
        plan = plan_summaries(request, models, *target_summary(dataset, request))
        frames = (batch.to_pandas() for batch in batches(dataset, request.columns))
        return self._summed(plan, frames, models)

    def columns(self, source: DataSource) -> list[str]:
        return list(open_dataset(source).schema.names)

    def evaluate_frame(
        self, frame: pd.DataFrame, request: EvaluationRequest, models: Sequence[Any]
    ) -> EngineEvaluation:
        """The same bootstrap on rows already in memory (a seeded split of train)."""
        table = pa.Table.from_pandas(frame[request.columns], preserve_index=False)
        plan = plan_summaries(request, models, *target_summary(ds.dataset(table), request))
        frames = (
            frame.iloc[start : start + BATCH_ROWS] for start in range(0, len(frame), BATCH_ROWS)
        )
        return self._summed(plan, frames, models)

    def _summed(
        self, plan: SummaryPlan, frames: Iterable[pd.DataFrame], models: Sequence[Any]
    ) -> EngineEvaluation:
        """Each batch scored once: its summary and its slices' sums, added up."""
        total = plan.empty()
        slices: Sums = {}
        for frame in frames:
            summary, found = batch_summary(plan, frame, models)
            total += summary
            add(slices, found)
        return finish(plan, total, self.name, slices)

    def close(self) -> None:
        """Nothing to release (the Spark engine stops its session)."""


def open_dataset(source: DataSource) -> ds.Dataset:
    """A pyarrow dataset over the source's files, refusing columns whose type differs."""
    if source.kind != "path":
        raise ConfigError(
            f"{source.label}: the local engine reads local files only; "
            "use `engine: spark` for URIs and catalog tables"
        )
    if source.format == "delta":
        raise ConfigError(
            f"{source.label}: a Delta table's folder also holds files its log removed, so the "
            "local engine does not read it; use engine: spark"
        )
    files = data_files(source)
    if source.format == "csv":
        return ds.dataset([str(f) for f in files], format=ds.CsvFileFormat())
    schemas = [(f, pq.read_schema(f)) for f in files]
    _check_same_types(source, schemas)
    return ds.dataset([str(f) for f in files], schema=schemas[0][1], format="parquet")


def _check_same_types(source: DataSource, schemas: list[tuple[Path, pa.Schema]]) -> None:
    first_file, first = schemas[0]
    for path, schema in schemas[1:]:
        for field in schema:
            index = first.get_field_index(field.name)
            if index >= 0 and first.field(index).type != field.type:
                raise DataError(
                    f"{source.label}: column {field.name!r} is {first.field(index).type} in "
                    f"{first_file.name} but {field.type} in {path.name}"
                )


def batches(dataset: ds.Dataset, columns: list[str]) -> Iterator[pa.RecordBatch]:
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise DataError(f"the eval data has no column(s) {missing}; found {dataset.schema.names}")
    # one file at a time, two batches read ahead: pyarrow's defaults (4 files, 16 batches)
    # make memory grow with the number of files, i.e. with the rows (benchmarks/README.md)
    for fragment in dataset.get_fragments():
        yield from fragment.to_batches(
            schema=dataset.schema, columns=columns, batch_size=BATCH_ROWS, batch_readahead=2
        )


def target_summary(dataset: ds.Dataset, request: EvaluationRequest) -> tuple[Any, float, int]:
    """(distinct targets or None for regression, mean target, rows) in one streamed pass."""
    distinct: set[Any] = set()
    total, count = 0.0, 0
    for batch in batches(dataset, [request.target]):
        column = batch.column(0)
        count += len(column)
        if request.task == "classification":
            distinct.update(column.unique().to_pylist())
        else:
            total += float(pc.sum(column).as_py() or 0.0)
    if request.task == "classification":
        return np.array(sorted(distinct)), 0.0, count
    return None, total / max(count, 1), count
