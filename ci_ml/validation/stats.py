"""Streaming per-column statistics shared by profiles and drift checks.

Everything is accumulated one record batch at a time with numpy/Arrow kernels:
moments by Chan's parallel formula, a seeded bottom-k row sample for quantiles,
and capped category counts merged by value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SAMPLE_ROWS = 50_000
CATEGORY_CAP = 10_000
SIGNIFICANT = 10


def tidy(value: float) -> float:
    """A float rounded to 10 significant digits, so profiles stay small and readable."""
    if not math.isfinite(value):
        return value
    return float(f"{value:.{SIGNIFICANT}g}")


class RowSampler:
    """A uniform sample of rows: each row draws a seeded key, the k smallest keys win.

    Keys come from one random stream consumed row by row, so the sample does not
    depend on how the file is cut into batches.
    """

    def __init__(self, size: int = SAMPLE_ROWS, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.threshold = 1.0
        self.kept = np.empty(0)

    def draw(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices (within the batch) of rows that may enter the sample, and their keys."""
        keys = self.rng.random(rows)
        chosen = np.flatnonzero(keys <= self.threshold)
        self.kept = np.concatenate([self.kept, keys[chosen]])
        if len(self.kept) > 2 * self.size:
            self._shrink()
        return chosen, keys[chosen]

    def _shrink(self) -> None:
        self.threshold = float(np.partition(self.kept, self.size - 1)[self.size - 1])
        self.kept = self.kept[self.kept <= self.threshold]

    def finish(self) -> float:
        """The final key threshold: rows with keys at or below it form the sample."""
        if len(self.kept) > self.size:
            self._shrink()
        return self.threshold


@dataclass
class NumericStats:
    """Count, nulls, moments, extremes and a row sample of one numeric column."""

    rows: int = 0
    nulls: int = 0
    invalid: int = 0
    infinite: int = 0
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    keys: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    held: int = 0

    def update(
        self,
        values: np.ndarray,
        invalid: np.ndarray,
        chosen: np.ndarray,
        keys: np.ndarray,
        threshold: float,
    ) -> np.ndarray:
        """Add one batch; returns its finite values for callers that bin them."""
        self.rows += len(values)
        self.invalid += int(invalid.sum())
        self.nulls += int(np.isnan(values).sum()) - int(invalid.sum())
        self.infinite += int(np.isinf(values).sum())
        finite = values[np.isfinite(values)]
        self._moments(finite)
        self._sample(values[chosen], keys, threshold)
        return finite

    def _moments(self, finite: np.ndarray) -> None:
        if not finite.size:
            return
        count, mean = finite.size, float(finite.mean())
        m2 = float(((finite - mean) ** 2).sum())
        total = self.n + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.m2 += m2 + delta * delta * self.n * count / total
        self.n = total
        self.low = min(self.low, float(finite.min()))
        self.high = max(self.high, float(finite.max()))

    def _sample(self, values: np.ndarray, keys: np.ndarray, threshold: float) -> None:
        self.values.append(values)
        self.keys.append(keys)
        self.held += len(keys)
        if self.held > 4 * SAMPLE_ROWS or len(self.keys) > 64:
            self._prune(threshold)

    def _prune(self, threshold: float) -> None:
        keys, values = np.concatenate(self.keys), np.concatenate(self.values)
        keep = keys <= threshold
        self.keys, self.values = [keys[keep]], [values[keep]]
        self.held = int(keep.sum())

    def sample(self, threshold: float) -> np.ndarray:
        """The sorted finite values of the sampled rows."""
        self._prune(threshold)
        values = self.values[0]
        return np.sort(values[np.isfinite(values)])

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


@dataclass
class CategoryStats:
    """Row count, nulls and per-category counts of one categorical column.

    At most CATEGORY_CAP distinct categories are kept (the most frequent); the
    counts of the rest are summed into `overflow`, so memory stays bounded.
    """

    rows: int = 0
    nulls: int = 0
    overflow: int = 0
    merged: pa.Table | None = None
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0

    def update(self, array: pa.Array) -> None:
        self.rows += len(array)
        self.nulls += array.null_count
        # Count first, then turn the (few) distinct values into text: cheaper than casting rows.
        counted = pc.value_counts(pc.drop_null(array))
        values = counted.field("values")
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
        batch = pa.table({"value": text, "count": counted.field("counts")})
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        if self.pending_rows > CATEGORY_CAP or len(self.pending) > 256:
            self._merge()

    def _merge(self) -> None:
        """Sum the counts of the batches seen since the last merge (one merge for many)."""
        tables = [self.merged, *self.pending] if self.merged is not None else self.pending
        self.pending, self.pending_rows = [], 0
        if not tables:
            return
        self.merged = self._cap(sum_counts(pa.concat_tables(tables)))

    @property
    def counts(self) -> pa.Table | None:
        """Category counts so far, as a table (value, count)."""
        self._merge()
        return self.merged

    def _cap(self, table: pa.Table) -> pa.Table:
        if table.num_rows <= CATEGORY_CAP:
            return table
        ordered = table.sort_by([("count", "descending"), ("value", "ascending")])
        self.overflow += int(pc.sum(ordered["count"].slice(CATEGORY_CAP)).as_py())
        return ordered.slice(0, CATEGORY_CAP)

    def frequencies(self) -> list[tuple[str, int]]:
        """(category, count), most frequent first, ties by name (deterministic)."""
        if self.counts is None:
            return []
        ordered = self.counts.sort_by([("count", "descending"), ("value", "ascending")])
        return list(zip(ordered["value"].to_pylist(), ordered["count"].to_pylist(), strict=True))

    @property
    def distinct(self) -> int:
        return 0 if self.counts is None else self.counts.num_rows

    def count_of(self, categories: list[str]) -> np.ndarray:
        """Counts of the given categories (0 when never seen)."""
        if self.counts is None or not categories:
            return np.zeros(len(categories), dtype=np.int64)
        wanted = pa.array(categories, pa.string())
        index = pc.index_in(self.counts["value"], value_set=wanted)
        found = self.counts.filter(pc.is_valid(index))
        result = np.zeros(len(categories), dtype=np.int64)
        positions = pc.drop_null(index).to_pylist()  # at most len(categories) items
        result[positions] = found["count"].to_pylist()
        return result


def sum_counts(table: pa.Table) -> pa.Table:
    """(value, count) rows with the counts of equal values summed, in first-seen order
    (a dictionary encoding and a bincount: no Arrow group-by, whose acero engine costs
    an import on every run)."""
    encoded = pc.dictionary_encode(table["value"].combine_chunks())
    counts = table["count"].combine_chunks().to_numpy()
    distinct = len(encoded.dictionary)
    sums = np.bincount(encoded.indices.to_numpy(), weights=counts, minlength=distinct)
    return pa.table({"value": encoded.dictionary, "count": pa.array(sums.astype(np.int64))})


def bin_counts(values: np.ndarray, edges: np.ndarray, side: str = "left") -> np.ndarray:
    """Counts in the bins (-inf, e0], (e0, e1], ..., (e_last, inf) ("right": [e, e') bins)."""
    positions = np.searchsorted(edges, values, side=side)  # type: ignore[call-overload]
    return np.bincount(positions, minlength=len(edges) + 1)


def quantiles(sample: np.ndarray, points: int) -> np.ndarray:
    """`points` quantiles from 0 to 1 of a sorted sample, each an observed value."""
    probabilities = np.linspace(0.0, 1.0, points)
    return np.quantile(sample, probabilities, method="inverted_cdf")


def as_python(values: np.ndarray) -> list[Any]:
    return [tidy(float(v)) for v in values]
