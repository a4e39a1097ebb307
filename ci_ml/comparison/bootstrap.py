"""Paired bootstrap of champion and challenger on the same eval rows.

Each resample draws n row indices with replacement and both models are scored
on exactly those rows, so the spread of the delta reflects only how the models
differ, not which rows happened to be drawn. Resample b uses its own random
stream spawned from `seed`, so it is the same whatever the chunking or the
number of resamples.

Metrics with a kernel (see `kernels`) are computed for a whole chunk of
resamples from sums; the others (median absolute error, multiclass AUC, custom
metrics, ...) fall back to one sklearn call per resample and model, which is
correct but slow on large eval sets. A resample on which a metric is undefined
(NaN, or a ValueError in the loop; e.g. roc_auc with one class drawn) counts as
invalid and is left out of the intervals; `n_valid_resamples` says how many
were used.
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ci_ml.comparison.kernels import Codes, Kernel, build_kernel
from ci_ml.comparison.metrics import (
    Metric,
    Predictions,
    PredictionsLike,
    as_predictions,
    resolve_metric,
    score,
)
from ci_ml.comparison.significance import (
    FEW_DISCORDANT,
    clean,
    exact_change_interval,
    hull,
)
from ci_ml.comparison.studentized import Studentized, studentized

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0
# Index and count matrices of one chunk stay under this many bytes; larger
# chunks were slower (fresh pages for every chunk), not faster.
DEFAULT_CHUNK_BYTES = 64 * 2**20
# From this many eval rows the kernels' numpy calls (draws, bincounts, gathers) are large
# enough to run outside the GIL, so chunks on several threads pay; below it they do not
# (measured on 2 cores: see benchmarks/README.md, issue 17).
PARALLEL_MIN_ROWS = 40_000


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval at `level`; None bounds when undefined."""

    low: float | None
    high: float | None
    level: float

    def contains(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def to_dict(self) -> dict[str, Any]:
        return {"low": clean(self.low), "high": clean(self.high), "level": self.level}


@dataclass(frozen=True)
class BootstrapResult:
    """One metric, higher is better (losses as neg_*; see `Metric.display_value`)."""

    metric: str
    display_name: str
    greater_is_better: bool
    challenger: float
    challenger_interval: Interval
    champion: float | None
    champion_interval: Interval | None
    delta: float | None
    delta_interval: Interval | None
    prob_challenger_better: float | None
    relative_delta: float | None
    relative_delta_reason: str | None
    n_rows: int
    n_resamples: int
    n_valid_resamples: int
    seed: int
    method: str
    interval_method: str = "percentile"  # "studentized" (bootstrap-t) for moment metrics
    # moment metrics: Hill's tail index of the challenger's per-row losses, and the method of
    # its own upper bound ("studentized", or with Peng's tail when the index is low)
    tail_index: float | None = None
    upper_bound_method: str | None = None
    # accuracy: the change's interval also holds the exact one (EXACT_CHANGE); moment metrics
    # under heavy tails: the symmetric studentized change (SYMMETRIC_STUDENTIZED; not log loss, MAE)
    delta_interval_method: str | None = None

    @property
    def p_value_not_better(self) -> float | None:
        """Bootstrap one-sided p-value for "challenger is not better" (for Holm)."""
        p = self.prob_challenger_better
        return None if p is None else 1.0 - p

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.to_dict() if isinstance(value, Interval) else clean(value)
        out["p_value_not_better"] = clean(self.p_value_not_better)
        return out


def resample_indices(
    n_rows: int, seed: int, start: int, stop: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Rows drawn by resamples start..stop-1: shape (stop - start, n_rows), written into
    `out` (a buffer of that shape and `index_dtype(n_rows)`) when given."""
    # int32 draws and gathers are about 4x faster than int64 ones
    dtype = index_dtype(n_rows)
    if out is None:
        out = np.empty((stop - start, n_rows), dtype=dtype)
    for b, row in enumerate(out, start=start):
        # what default_rng(SeedSequence) builds, without its dispatch (half the set-up time)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(b,))))
        row[:] = rng.integers(0, n_rows, n_rows, dtype=dtype)
    return out


def index_dtype(n_rows: int) -> type:
    return np.int32 if n_rows < 2**31 else np.int64


def _chunks(
    n_resamples: int, bytes_per_resample: int, chunk_bytes: int
) -> Iterator[tuple[int, int]]:
    size = max(1, chunk_bytes // max(bytes_per_resample, 1))
    for start in range(0, n_resamples, size):
        yield start, min(start + size, n_resamples)


def resampled_values(
    metrics: Sequence[Metric],
    y_true: np.ndarray,
    models: Sequence[Predictions],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int = 1,
) -> tuple[list[np.ndarray], list[str]]:
    """Per metric, (n_models, n_resamples) values, and the method used for each.

    With `threads` > 1 (see `bootstrap_threads`) the chunks are shared among that many
    threads, the caller one of them, each with one chunk (`chunk_bytes`) in flight. The
    chunks are the serial ones and each resample has its own stream, so the values are
    bit-identical to the serial run's."""
    cache: dict[Any, Any] = {}
    kernels = [build_kernel(m, y_true, models, cache) for m in metrics]
    values = [np.full((len(models), n_resamples), np.nan) for _ in metrics]
    engine = _Engine([k for k in kernels if k is not None], len(y_true))
    n_rows = len(y_true)
    # each thread reuses its chunk buffers: fresh ones fault in new pages every chunk
    scratch = Scratch()

    def fill(start: int, stop: int) -> None:
        shape = (stop - start, n_rows)
        idx = resample_indices(
            n_rows, seed, start, stop, scratch.get("idx", shape, index_dtype(n_rows))
        )
        found = engine.run(idx, scratch)
        for out, metric, kernel in zip(values, metrics, kernels, strict=True):
            if kernel is not None:
                out[:, start:stop] = found[id(kernel)]
            else:
                out[:, start:stop] = _loop(metric, y_true, models, idx)

    spans = list(_chunks(n_resamples, engine.bytes_per_resample(n_rows), chunk_bytes))
    # the loop's sklearn calls hold the GIL and catch_warnings is not thread-safe
    everywhere = all(k is not None for k in kernels)
    spread(fill, spans, threads if everywhere else 1)
    return values, ["vectorised" if k is not None else "loop" for k in kernels]


def bootstrap_threads(n_rows: int, cores: int) -> int:
    """How many threads the chunks of a bootstrap on `n_rows` rows should share."""
    return max(1, cores) if n_rows >= PARALLEL_MIN_ROWS else 1


def spread(work: Callable[[int, int], None], spans: list[tuple[int, int]], threads: int) -> None:
    """`work(start, stop)` for every span, on `threads` threads (the caller one of them);
    a failure stops the others taking new spans and is raised here."""
    threads = min(threads, len(spans))
    if threads < 2:
        for start, stop in spans:
            work(start, stop)
        return
    pending, lock, failed = iter(spans), threading.Lock(), threading.Event()

    def drain() -> None:
        while not failed.is_set():
            with lock:
                span = next(pending, None)
            if span is None:
                return
            try:
                work(*span)
            except BaseException:
                failed.set()
                raise

    with ThreadPoolExecutor(threads - 1, thread_name_prefix="ci-ml-bootstrap") as pool:
        helpers = [pool.submit(drain) for _ in range(threads - 1)]
        drain()
        for helper in helpers:
            helper.result()


class Scratch(threading.local):
    """Each thread's own buffers, reused from chunk to chunk (a smaller last chunk gets a
    view)."""

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int], dtype: type) -> np.ndarray:
        found = self.buffers.get(name)
        if found is None or found.shape[0] < shape[0] or found.shape[1:] != shape[1:]:
            found = self.buffers[name] = np.empty(shape, dtype)
        assert found.dtype == dtype
        return found[: shape[0]]


# A code set this small, when the row counts are counted anyway (AUC by rows, features), is
# counted from them: rows @ one_hot(codes), one matrix product per block of resamples instead
# of a (b, n) gather and b bincounts (3-5x faster at 20k-200k rows for binary labels' 8 row
# types of two models; 3 classes' 27 types measured no faster, slower in the labels suite at
# 200k rows, so those keep the gather). Exact: each count is a sum of integers at most
# n < 2**24 in float32, whatever the order of the sums. The one-hot matrix stays below the bytes.
ONE_HOT_MAX_CODES = 8
ONE_HOT_MAX_BYTES = 32 * 2**20
# resamples per product (their float copy of the row counts), at most these bytes of it:
# fewer than 8 a product costs 1.5-2x more, the copy in one piece as much as 16
ONE_HOT_BLOCK = 16
ONE_HOT_BLOCK_BYTES = 8 * 2**20


class _Engine:
    """Every kernel's values for one chunk of resamples, from shared counts and sums."""

    def __init__(self, kernels: list[Kernel], n_rows: int) -> None:
        self.kernels = kernels
        features = [k.features for k in kernels if k.features is not None]
        self.features = np.column_stack(features) if features else None
        # kernels may share a Codes object (label metrics): count it once
        self.codes = {id(c): c for k in kernels for c in k.codes}
        self.by_rows = any(k.from_rows is not None for k in kernels)
        self.one_hot: dict[int, np.ndarray] = {}
        if (self.by_rows or self.features is not None) and n_rows < 2**24:
            for key, c in self.codes.items():
                if c.size <= ONE_HOT_MAX_CODES and n_rows * c.size * 4 <= ONE_HOT_MAX_BYTES:
                    self.one_hot[key] = one_hot(c)

    def bytes_per_resample(self, n_rows: int) -> int:
        """Index (4 bytes a row) plus what counting codes and features holds at once.

        Finishing a ranking metric keeps a few float copies of its counts; one
        counted by rows, the int32 row counts (it works one resample at a time).
        """
        per_codes = n_rows * 8 + 32 * max((c.size for c in self.codes.values()), default=0)
        per_rows = n_rows * 4 if self.by_rows else 0
        per_features = n_rows * 16 if self.features is not None else 0
        return n_rows * 4 + per_codes + per_rows + per_features

    def run(self, idx: np.ndarray, scratch: Scratch | None = None) -> dict[int, np.ndarray]:
        """Per kernel (by id), its (n_models, b) values on the resamples `idx`."""
        rows = None
        if self.by_rows or self.features is not None:
            # a row is drawn at most n < 2**31 times; int32 gathers are twice as fast
            dtype = idx.dtype.type
            buffer = None if scratch is None else scratch.get("rows", idx.shape, dtype)
            rows = _count(idx, idx.shape[1], dtype, buffer)
        counts = {
            key: _count(c.values[idx], c.size)
            if rows is None or key not in self.one_hot
            else counted_by_rows(rows, self.one_hot[key])
            for key, c in self.codes.items()
        }
        feature_sums = None
        if self.features is not None and rows is not None:
            feature_sums = rows.astype(float) @ self.features
        out: dict[int, np.ndarray] = {}
        column = 0
        for k in self.kernels:
            if k.from_rows is not None and rows is not None:
                out[id(k)] = k.from_rows(rows)
                continue
            sums = None
            if k.features is not None and feature_sums is not None:
                width = k.features.shape[1]
                sums = feature_sums[:, column : column + width]
                column += width
            assert k.finish is not None
            out[id(k)] = k.finish([counts[id(c)] for c in k.codes], sums)
        return out


def one_hot(codes: Codes) -> np.ndarray:
    """(n, size) float32: row i has a 1 in column codes.values[i]."""
    out = np.zeros((len(codes.values), codes.size), np.float32)
    out[np.arange(len(codes.values)), codes.values] = 1
    return out


def counted_by_rows(rows: np.ndarray, hot: np.ndarray) -> np.ndarray:
    """Per resample (a row of the (b, n) row counts), how often each code was drawn:
    the same int64 counts as counting the gathered codes (`ONE_HOT_MAX_CODES`)."""
    out = np.empty((len(rows), hot.shape[1]), np.int64)
    step = max(1, min(ONE_HOT_BLOCK, len(rows), ONE_HOT_BLOCK_BYTES // (rows.shape[1] * 4)))
    weights = np.empty((step, rows.shape[1]), np.float32)
    for start in range(0, len(rows), step):
        block = rows[start : start + step]
        part = weights[: len(block)]
        np.copyto(part, block, casting="unsafe")
        out[start : start + len(block)] = part @ hot
    return out


def _count(
    values: np.ndarray, size: int, dtype: type = np.int64, out: np.ndarray | None = None
) -> np.ndarray:
    """Per row of `values` (b, n), how often each of 0..size-1 occurs: (b, size), written
    into `out` when given.

    One bincount per row: a single one over b * size bins leaves the cache when the
    bins are many (row counts, distinct scores), 2x slower at 200k rows."""
    if out is None:
        out = np.empty((len(values), size), dtype)
    for row, found in zip(values, out, strict=True):
        found[:] = np.bincount(row, minlength=size)
    return out


def _loop(
    metric: Metric, y_true: np.ndarray, models: Sequence[Predictions], idx: np.ndarray
) -> np.ndarray:
    out = np.full((len(models), len(idx)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b, rows in enumerate(idx):
            for k, model in enumerate(models):
                # undefined on this resample (ValueError): left NaN, counted as invalid
                with contextlib.suppress(ValueError):
                    out[k, b] = score(metric, y_true[rows], model.take(rows))
    return out


def check_inputs(y_true: np.ndarray, models: dict[str, Predictions]) -> None:
    """Refuse empty, misaligned or NaN inputs with a message naming the array."""
    if len(y_true) == 0:
        raise ValueError("no eval rows: y_true is empty")
    _check_no_nan("y_true", y_true)
    for name, preds in models.items():
        for method in preds.available():
            array = np.asarray(getattr(preds, method))
            if len(array) != len(y_true):
                raise ValueError(f"{name} {method} has {len(array)} rows, y_true has {len(y_true)}")
            _check_no_nan(f"{name} {method}", array)


def _check_no_nan(name: str, array: np.ndarray) -> None:
    missing = pd.isna(array.reshape(len(array), -1)).any(axis=1)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise ValueError(
            f"{name} has {len(rows)} missing (NaN) values, first at rows {rows[:5].tolist()}"
        )


def paired_bootstrap(
    metrics: Sequence[Metric | str],
    y_true: Any,
    challenger: PredictionsLike,
    champion: PredictionsLike | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int = 1,
) -> list[BootstrapResult]:
    """Challenger against champion on the same resampled rows, one result per metric.

    Point values are the exact scorer values on all rows; intervals are
    percentile intervals of the resampled values. With no champion (a first
    run) only the challenger's value and interval are given.
    """
    results, _ = paired_bootstrap_values(
        metrics,
        y_true,
        challenger,
        champion,
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
        chunk_bytes=chunk_bytes,
        threads=threads,
    )
    return results


def paired_bootstrap_values(
    metrics: Sequence[Metric | str],
    y_true: Any,
    challenger: PredictionsLike,
    champion: PredictionsLike | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    threads: int = 1,
) -> tuple[list[BootstrapResult], list[np.ndarray]]:
    """`paired_bootstrap`, plus per metric the resampled values, shape
    (n_models, n_resamples), challenger first: the gate tests thresholds on them.

    For moment metrics (MSE, RMSE, MAE, log loss, ...) these are the bootstrap-t
    pseudo-resamples of `studentized`, and row 0 - row 1 is the studentized change,
    so percentiles of them are the studentized intervals the results report.
    `threads`: see `resampled_values` (the studentized pseudo-resamples stay serial)."""
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ValueError(
            f"need 0 < confidence < 1 and n_resamples >= 1, got {confidence}, {n_resamples}"
        )
    y = np.asarray(y_true)
    named = {"challenger": as_predictions(challenger)}
    if champion is not None:
        named["champion"] = as_predictions(champion)
    check_inputs(y, named)
    resolved = [resolve_metric(m) if isinstance(m, str) else m for m in metrics]
    models = list(named.values())
    # exact values first: a metric sklearn refuses fails before any resampling
    points = [[score(metric, y, model) for model in models] for metric in resolved]
    values, methods = resampled_values(resolved, y, models, n_resamples, seed, chunk_bytes, threads)
    results, tested = [], []
    for metric, point, vals, method in zip(resolved, points, values, methods, strict=True):
        pivots = studentized(metric, y, models, n_resamples, seed, chunk_bytes)
        own, deltas = (vals, paired_deltas(vals)) if pivots is None else (pivots.own, pivots.change)
        result = bootstrap_result(metric, point, own, deltas, method, confidence, seed, len(y))
        if pivots is not None:
            result = studentized_result(result, pivots)
        results.append(with_exact_change(result, y, models))
        tested.append(tested_values(own, deltas))
    return results, tested


# the exact interval bounds the discordant rows' split and, when they are few, their share
# of all rows, so it does not rest on their count (`significance.exact_change_bound`)
EXACT_CHANGE = (
    "percentile and exact (Clopper-Pearson on the discordant rows' split, and below "
    f"{FEW_DISCORDANT} of them on their share of all rows)"
)


def with_exact_change(
    result: BootstrapResult, y_true: np.ndarray, models: Sequence[Predictions]
) -> BootstrapResult:
    """Accuracy: the change's interval widened to hold the exact one as well."""
    if result.metric != "accuracy" or len(models) != 2 or models[0].predict is None:
        return result
    right = [np.asarray(model.predict) == y_true for model in models]
    only_challenger = int(np.sum(right[0] & ~right[1]))
    only_champion = int(np.sum(right[1] & ~right[0]))
    return widened(result, only_champion, only_challenger)


def widened(result: BootstrapResult, only_champion: int, only_challenger: int) -> BootstrapResult:
    """`result` with its delta interval the hull of the bootstrap's and the exact one."""
    interval = result.delta_interval
    if interval is None or interval.low is None or interval.high is None:
        return result
    exact = exact_change_interval(only_champion, only_challenger, result.n_rows, interval.level)
    low, high = hull((interval.low, interval.high), exact)
    return replace(
        result,
        delta_interval=Interval(low, high, interval.level),
        delta_interval_method=EXACT_CHANGE,
    )


def studentized_result(result: BootstrapResult, pivots: Studentized) -> BootstrapResult:
    """The result of a moment metric says its interval is studentized, how the
    challenger's upper bound was computed and, when not studentized, the change's."""
    return replace(
        result,
        interval_method="studentized",
        tail_index=pivots.tail_index[0],
        upper_bound_method=pivots.bound_method[0],
        delta_interval_method=pivots.change_method,
    )


def tested_values(own: np.ndarray, deltas: np.ndarray | None) -> np.ndarray:
    """What the gate tests: the challenger's own values and, for a pair, values whose
    row 0 - row 1 is `deltas` (the studentized change, for moment metrics)."""
    return own if deltas is None else np.vstack([own[0], own[0] - deltas])


def paired_deltas(values: np.ndarray) -> np.ndarray | None:
    return values[0] - values[1] if len(values) > 1 else None


def percentile_interval(values: np.ndarray, level: float) -> Interval:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return Interval(None, None, level)
    alpha = (1 - level) / 2
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return Interval(float(low), float(high), level)


def prob_better(deltas: np.ndarray) -> float | None:
    """Share of resamples with delta > 0, ties counted half."""
    finite = deltas[np.isfinite(deltas)]
    if len(finite) == 0:
        return None
    return float(np.mean(finite > 0) + 0.5 * np.mean(finite == 0))


def relative_delta(delta: float | None, champion: float | None) -> tuple[float | None, str | None]:
    """delta / |champion|, or None with the reason it is undefined."""
    if champion is None or delta is None:
        return None, "no champion to compare with"
    if not (math.isfinite(champion) and math.isfinite(delta)):
        return None, "champion or delta is not a finite number"
    if champion == 0:
        return None, "champion value is 0: a relative change is undefined"
    return delta / abs(champion), None


def bootstrap_result(
    metric: Metric,
    points: list[float],
    values: np.ndarray,
    deltas: np.ndarray | None,
    method: str,
    confidence: float,
    seed: int,
    n_rows: int,
) -> BootstrapResult:
    challenger = points[0]
    champion = points[1] if len(points) > 1 else None
    delta = None if champion is None else challenger - champion
    relative, reason = relative_delta(delta, champion)
    valid = np.isfinite(values).all(axis=0)
    return BootstrapResult(
        metric=metric.name,
        display_name=metric.display_name,
        greater_is_better=metric.greater_is_better,
        challenger=challenger,
        challenger_interval=percentile_interval(values[0], confidence),
        champion=champion,
        champion_interval=None if champion is None else percentile_interval(values[1], confidence),
        delta=delta,
        delta_interval=None if deltas is None else percentile_interval(deltas, confidence),
        prob_challenger_better=None if deltas is None else prob_better(deltas),
        relative_delta=relative,
        relative_delta_reason=reason,
        n_rows=int(n_rows),
        n_resamples=values.shape[1],
        n_valid_resamples=int(valid.sum()),
        seed=seed,
        method=method,
    )
