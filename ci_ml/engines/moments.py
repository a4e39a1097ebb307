"""Studentized intervals and the heavy-tail switch of moment metrics, from summaries.

The local bootstrap (`comparison.studentized`) studentizes moment metrics (MSE,
RMSE, MAE, log loss, ...) and, for a model whose per-row losses have a Hill
tail index below 2.5 (5 for absolute errors: `tail_threshold`), takes the
larger of that upper bound and Peng's tail-extrapolated one. The Poisson
bootstrap runs the very same functions on what a worker can send back:

- per resample, the weighted sums of l, l^2 per model and l_0 * l_1 of the pair
  (the summary's moment columns), so a resample's mean, variance and the
  change's standard error are Σw·l / Σw and so on;
- per model, the `candidate_rows(n)` largest losses with their row keys, merged
  across batches and partitions by keeping the largest (a few times 2 sqrt(n)
  values: bounded, never linear in the rows). Hill's index needs the top
  sqrt(n) + 1 of them; Peng's estimate of resample b needs the k + 1 largest
  losses counted with their weights, and a row's weight in resample b is a
  function of its key (`poisson`), so the driver re-derives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ci_ml.comparison.metrics import Metric
from ci_ml.comparison.studentized import (
    MomentSums,
    Studentized,
    from_sums,
    heavy_models,
    hill_of_top,
    peng_means,
    peng_rows,
    tail_threshold,
)
from ci_ml.engines.poisson import poisson_weights

# The k + 1 largest weighted losses of a resample lie among the candidates unless their
# Poisson weights sum to at most k: at 2(k + 1) + 40 candidates below 1e-14 a resample.
CANDIDATE_MARGIN = 40
# weights of the candidates: at most this many cells at once
_CHUNK_CELLS = 4_000_000


def candidate_rows(n_rows: int) -> int:
    """How many of the largest losses a summary keeps per model."""
    return 2 * (peng_rows(n_rows) + 1) + CANDIDATE_MARGIN


def moment_width(n_models: int) -> int:
    """Summary columns of a moment metric: l, l^2 per model, l_0 * l_1 for a pair."""
    return 2 * n_models + (n_models == 2)


def moment_columns(offset: int, losses: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """A moment slot's columns to sum, from its (rows, models) losses: the losses first,
    summed alone as before the studentized sums (so point values and slices keep their
    exact sums), then each l_k^2 and, for a pair, l_0 * l_1."""
    n_models = losses.shape[1]
    cross = [losses[:, :1] * losses[:, 1:]] if n_models == 2 else []
    return [(offset, losses), (offset + n_models, np.hstack([losses**2, *cross]))]


def moment_order(n_models: int) -> np.ndarray:
    """The slot's columns in the order of `studentized.moment_features`."""
    order = [c for k in range(n_models) for c in (k, n_models + k)]
    return np.array(order + ([2 * n_models] if n_models == 2 else []))


@dataclass(frozen=True)
class TopLosses:
    """The `size` largest losses seen (descending, ties by row key) and their row keys."""

    values: np.ndarray
    keys: np.ndarray
    size: int

    @classmethod
    def of(cls, values: np.ndarray, keys: np.ndarray, size: int) -> TopLosses:
        values = np.asarray(values, dtype=np.float64)
        keys = np.asarray(keys, dtype=np.uint64)
        if len(values) > size:  # a partial sort first: batches are large, the top is small
            picked = np.argpartition(-values, size - 1)[:size]
            cut = values[picked].min()
            picked = np.flatnonzero(values >= cut)  # every tie at the cut, sorted below
            values, keys = values[picked], keys[picked]
        order = np.lexsort((keys, -values))[:size]
        return cls(values[order], keys[order], size)

    @classmethod
    def empty(cls, size: int) -> TopLosses:
        return cls(np.empty(0), np.empty(0, dtype=np.uint64), size)

    def merge(self, other: TopLosses) -> TopLosses:
        values = np.concatenate([self.values, other.values])
        return TopLosses.of(values, np.concatenate([self.keys, other.keys]), self.size)

    def to_bytes(self) -> bytes:
        """size, then the values, then the keys (8 bytes each)."""
        head = np.array([self.size], dtype=np.uint64)
        return head.tobytes() + self.values.tobytes() + self.keys.tobytes()

    @classmethod
    def from_bytes(cls, blob: bytes) -> TopLosses:
        size = int(np.frombuffer(blob[:8], dtype=np.uint64)[0])
        body = blob[8:]
        half = len(body) // 2
        values = np.frombuffer(body[:half], dtype=np.float64)
        return cls(values, np.frombuffer(body[half:], dtype=np.uint64), size)


@dataclass(frozen=True)
class MomentSummary:
    """One moment metric's merged summary: (1 + resamples, moment_width) sums, in the order
    of `moment_features`, with their total weights (row 0: every weight 1), and each
    model's top losses."""

    sums: np.ndarray
    weight: np.ndarray
    tops: tuple[TopLosses, ...]
    n_rows: int
    seed: int
    root: bool


def poisson_studentized(metric: Metric, summary: MomentSummary) -> Studentized:
    """Bootstrap-t pseudo-resamples of the Poisson bootstrap, with the local engine's tail
    switch: Hill's index on the top losses; for a heavy-tailed model, Peng's means."""
    n_rows = summary.n_rows
    indices = tuple(hill_of_top(top.values[::-1], n_rows) for top in summary.tops)
    means = {k: _peng(summary, k) for k in heavy_models(indices, tail_threshold(metric))}
    moments = MomentSums(
        summary.sums[:1],
        float(summary.weight[0]),
        summary.sums[1:],
        summary.weight[1:],
        summary.root,
    )
    return from_sums(metric, moments, indices, means)


def _peng(summary: MomentSummary, model: int) -> np.ndarray:
    """Peng's tail-extrapolated mean of model `model`'s losses under each resample."""
    top = summary.tops[model]
    logs = np.log(np.maximum(top.values, np.finfo(float).tiny))
    k, n_resamples = peng_rows(summary.n_rows), len(summary.sums) - 1
    out = np.empty(n_resamples)
    step = max(1, _CHUNK_CELLS // max(len(top.values), 1))
    for start in range(0, n_resamples, step):
        stop = min(start + step, n_resamples)
        weights = poisson_weights(top.keys, summary.seed, start, stop)
        total = summary.sums[1 + start : 1 + stop, 2 * model]
        n_each = summary.weight[1 + start : 1 + stop]
        out[start:stop] = peng_means(top.values, logs, weights, k, total, n_each)
    return out
