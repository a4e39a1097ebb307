"""Vectorised bootstrap kernels: metrics as functions of resampled sums.

A bootstrap resample is a vector of row counts w (how often each eval row was
drawn). Many metrics depend on the rows only through weighted sums, so every
resample's value follows from a few sums instead of a call to sklearn:

- ranking metrics (binary ROC AUC, average precision) from counts of positive
  and negative rows per distinct score.
- label metrics (accuracy, balanced accuracy, precision / recall / f1 / jaccard
  with binary, micro, macro, weighted averages, MCC) from each model's confusion
  matrix. Rows are grouped by their (y_true, champion label, challenger label)
  type, so one bincount per resample chunk gives both confusion matrices.
- per-row losses (MSE, RMSE, MSLE, RMSLE, MAE, MAPE, log loss) from sum(w * loss).
- r2 and explained variance from sums of y, y^2, residual and residual^2
  (centred on the full-sample mean first, against cancellation).

Two deliberate differences from calling sklearn per resample, both on
degenerate resamples of tiny eval sets: log loss uses the classes of the whole
eval set, so a resample that drew one class still has a value
(`log_loss(..., labels=all classes)`) where `log_loss` without labels raises;
and r2 / explained variance of a resample that repeats one row get sklearn's
force_finite value (0 or 1), where sklearn's own mean leaves rounding dust and
returns values like -1e31.

`build_kernel` returns None for everything else (median absolute error, max
error, multiclass AUC, Brier score, d2 scores, custom metrics, unusual kwargs,
multi-output targets); the bootstrap then falls back to one sklearn call per
resample and model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from ci_ml.comparison.metrics import Metric, Predictions, response_values, select_method

Finish = Callable[[list[np.ndarray], np.ndarray | None], np.ndarray]

LABEL_FUNCS = {
    skm.accuracy_score,
    skm.balanced_accuracy_score,
    skm.precision_score,
    skm.recall_score,
    skm.f1_score,
    skm.jaccard_score,
    skm.matthews_corrcoef,
}
SET_WISE = {skm.precision_score, skm.recall_score, skm.f1_score, skm.jaccard_score}
AVERAGES = {"binary", "micro", "macro", "weighted"}


@dataclass(frozen=True, eq=False)
class Codes:
    """Each row's category (0 <= value < size); resamples count each category."""

    values: np.ndarray
    size: int

    @classmethod
    def of(cls, values: np.ndarray, size: int) -> Codes:
        # small ints: the per-resample gather is memory bound
        dtype = np.int32 if size < 2**31 else np.int64
        return cls(np.ascontiguousarray(values, dtype=dtype), size)


@dataclass(frozen=True, eq=False)
class Kernel:
    """Per-row inputs and the map from resampled sums to values.

    Each `codes` entry is counted per resample, `features` (n, F) are summed
    with the resample counts; `finish(code_counts [(b, size), ...],
    feature_sums (b, F))` returns (n_models, b) metric values, higher is better;
    a kernel with `from_rows` gets the resamples' row counts instead.
    """

    codes: tuple[Codes, ...]
    features: np.ndarray | None
    finish: Finish | None
    # (b, n) row counts -> (n_models, b) values, for a kernel that needs each row's count
    from_rows: Callable[[np.ndarray], np.ndarray] | None = None


def build_kernel(
    metric: Metric,
    y_true: np.ndarray,
    models: Sequence[Predictions],
    cache: dict[Any, Any] | None = None,
) -> Kernel | None:
    """A vectorised kernel for `metric`, or None when only the loop can do it.

    Kernels built with the same `cache` share their row-type codes, so label
    metrics on the same predictions cost one bincount per chunk, not one each.
    """
    if metric.custom or np.ndim(y_true) != 1:
        return None  # multi-output targets: the loop keeps sklearn's averaging
    func = metric.score_func
    cache = {} if cache is None else cache
    if func in LABEL_FUNCS:
        return _label_kernel(metric, y_true, models, cache)
    if func in (skm.roc_auc_score, skm.average_precision_score) and not metric.kwargs:
        return _ranking_kernel(metric, np.asarray(y_true), models, cache)
    if func is skm.log_loss and not metric.kwargs:
        return _loss_kernel(metric, [_log_losses(metric, y_true, m) for m in models])
    if func is skm.r2_score and not metric.kwargs:
        return _r2_kernel(metric, y_true, models, explained=False)
    if func is skm.explained_variance_score and not metric.kwargs:
        return _r2_kernel(metric, y_true, models, explained=True)
    found = row_losses(metric, y_true, models)
    if found is None:
        return None
    losses, root = found
    return _loss_kernel(metric, losses, root=root)


def row_losses(
    metric: Metric, y_true: np.ndarray, models: Sequence[Predictions]
) -> tuple[list[np.ndarray], bool] | None:
    """Per-row losses of a moment metric (a mean of them, or its square root: `root`),
    or None when the metric is not one."""
    func = metric.score_func
    if metric.custom or metric.kwargs or np.ndim(y_true) != 1:
        return None
    if func is skm.log_loss:
        return [_log_losses(metric, y_true, m) for m in models], False
    per_row = PER_ROW_LOSSES.get(func)
    if per_row is None:
        return None
    y = np.asarray(y_true, dtype=float)
    preds = [np.asarray(response_values(metric, m), dtype=float) for m in models]
    if any(p.ndim != 1 for p in preds):
        return None
    root = func in (skm.root_mean_squared_error, skm.root_mean_squared_log_error)
    return [per_row(y, p) for p in preds], root


PER_ROW_LOSSES: dict[Any, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    skm.mean_squared_error: lambda y, p: (y - p) ** 2,
    skm.root_mean_squared_error: lambda y, p: (y - p) ** 2,
    skm.mean_absolute_error: lambda y, p: np.abs(y - p),
    skm.mean_squared_log_error: lambda y, p: (np.log1p(y) - np.log1p(p)) ** 2,
    skm.root_mean_squared_log_error: lambda y, p: (np.log1p(y) - np.log1p(p)) ** 2,
    skm.mean_absolute_percentage_error: lambda y, p: (
        np.abs(y - p) / np.maximum(np.abs(y), np.finfo(np.float64).eps)
    ),
}


def _loss_kernel(metric: Metric, losses: list[np.ndarray], root: bool = False) -> Kernel:
    n_rows = len(losses[0])

    def finish(_: list[np.ndarray], sums: np.ndarray | None) -> np.ndarray:
        assert sums is not None
        mean = sums.T / n_rows
        return metric.sign * (np.sqrt(mean) if root else mean)

    return Kernel((), np.column_stack(losses), finish)


def _log_losses(metric: Metric, y_true: np.ndarray, model: Predictions) -> np.ndarray:
    """Per-row log loss exactly as `sklearn.metrics.log_loss` sums it."""
    proba = np.asarray(response_values(metric, model), dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    labels = np.unique(y_true)
    if len(labels) != proba.shape[1]:
        raise ValueError(
            f"y_true has {len(labels)} classes but the probabilities have {proba.shape[1]} columns"
        )
    eps = np.finfo(proba.dtype).eps
    picked = proba[np.arange(len(proba)), np.searchsorted(labels, y_true)]
    return -np.log(np.clip(picked, eps, 1 - eps))


def _r2_kernel(
    metric: Metric, y_true: np.ndarray, models: Sequence[Predictions], explained: bool
) -> Kernel:
    y = np.asarray(y_true, dtype=float)
    y_c = y - y.mean()
    columns = [y_c, y_c**2]
    for model in models:
        r = y - np.asarray(response_values(metric, model), dtype=float).reshape(len(y))
        r = r - r.mean() if explained else r
        columns += [r, r**2]
    n_rows = len(y)

    def finish(_: list[np.ndarray], sums: np.ndarray | None) -> np.ndarray:
        assert sums is not None
        ss_tot = zeroed(sums[:, 1] - sums[:, 0] ** 2 / n_rows, sums[:, 1])
        out = []
        for k in range(len(models)):
            r_sum, r2_sum = sums[:, 2 + 2 * k], sums[:, 3 + 2 * k]
            ss_res = zeroed(r2_sum - r_sum**2 / n_rows, r2_sum) if explained else r2_sum
            out.append(forced_finite_r2(ss_res, ss_tot))
        return metric.sign * np.vstack(out)

    return Kernel((), np.column_stack(columns), finish)


def zeroed(centred: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Sum-of-squares shortcuts leave rounding dust where sklearn gets an exact 0
    (a resample of one repeated row); call that 0 so force_finite applies."""
    return np.where(centred <= 1e-12 * raw, 0.0, centred)


def forced_finite_r2(ss_res: np.ndarray, ss_tot: np.ndarray) -> np.ndarray:
    """sklearn's force_finite: 1 for a perfect fit of constant y, else 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1 - ss_res / ss_tot
    constant = ss_tot <= 0
    return np.where(constant, np.where(ss_res <= 0, 1.0, 0.0), r2)


def _ranking_kernel(
    metric: Metric, y_true: np.ndarray, models: Sequence[Predictions], cache: dict[Any, Any]
) -> Kernel | None:
    """Binary ROC AUC and average precision from counts per (score, class) group."""
    labels = np.unique(y_true)
    is_auc = metric.score_func is skm.roc_auc_score
    # roc_auc_score takes the larger label as positive; average precision pos_label
    pos_label = labels[-1] if is_auc else metric.pos_label
    if len(labels) != 2 or pos_label not in labels.tolist():
        return None  # multiclass AUC or a pos_label sklearn refuses: the loop decides
    codes = []
    for model in models:
        key = ("ranking", id(y_true), id(model), select_method(metric, model), pos_label)
        if key not in cache:
            cache[key] = _score_groups(response_values(metric, model), y_true == pos_label)
        if cache[key] is None:
            return None
        codes.append(cache[key])
    if is_auc and _mostly_distinct(codes, len(y_true)):
        return _auc_by_rows(metric, y_true == pos_label, models)

    def finish(counts: list[np.ndarray], _: np.ndarray | None) -> np.ndarray:
        rank = roc_auc_from_counts if is_auc else average_precision_from_counts
        return metric.sign * np.vstack([rank(c.reshape(len(c), -1, 2)) for c in counts])

    return Kernel(tuple(codes), None, finish)


def _mostly_distinct(codes: list[Codes], n_rows: int) -> bool:
    """Whether some model has more than n/8 distinct scores: then counting its rows in
    ranked order beats counting (score, class) groups (measured at 200k rows)."""
    return any(c.size // 2 > n_rows // 8 for c in codes)


def _auc_by_rows(metric: Metric, positive: np.ndarray, models: Sequence[Predictions]) -> Kernel:
    """Binary ROC AUC of each resample from its row counts (the same integers, so the
    same values, as roc_auc_from_counts)."""
    ranked = [
        RankedRows.of(np.asarray(response_values(metric, m), float), positive) for m in models
    ]

    def from_rows(weights: np.ndarray) -> np.ndarray:
        return metric.sign * np.vstack([r.auc(weights) for r in ranked])

    return Kernel((), None, None, from_rows)


# Up to this many eval rows, RankedRows.auc takes BLOCK resamples per numpy call: there
# the calls' own cost outweighs their work (per model, 1,000 resamples: 3.4x faster at
# 2,000 rows, 1.9x at 5,000, even at 10,000, 1.6x slower at 20,000, where a block
# leaves the cache).
BLOCK_MAX_ROWS = 8192
BLOCK = 64


@dataclass(frozen=True, eq=False)
class RankedRows:
    """One model's rows for the Mann-Whitney count: negatives and positives each in
    ascending score order, and per positive how many negatives score below it and how
    many score at most it (so ties count half)."""

    negatives: np.ndarray
    positives: np.ndarray
    below: np.ndarray
    at_most: np.ndarray
    # positives tied with some negative (below != at_most): few when scores are distinct
    tied: np.ndarray

    @classmethod
    def of(cls, scores: np.ndarray, positive: np.ndarray) -> RankedRows:
        negatives, positives = (_by_score(scores, np.flatnonzero(m)) for m in (~positive, positive))
        neg_scores, pos_scores = scores[negatives], scores[positives]
        below = np.searchsorted(neg_scores, pos_scores, side="left")
        at_most = np.searchsorted(neg_scores, pos_scores, side="right")
        tied = np.flatnonzero(below != at_most)
        return cls(negatives, positives, below, at_most, tied)

    def auc(self, weights: np.ndarray) -> np.ndarray:
        """Per resample (a row of `weights`, the (b, n) row counts), the AUC.

        2 * wins = sum over positives of count * (negatives below + negatives at most),
        in exact integers; one class drawn: NaN, as sklearn. One resample at a time,
        in buffers reused: the arrays stay in the cache (2x faster at 200k rows); on
        few rows, blocks of resamples (`BLOCK_MAX_ROWS`)."""
        twice_wins, pairs = np.empty(len(weights), np.int64), np.empty(len(weights), np.int64)
        fill = self._fill_blocks if weights.shape[1] <= BLOCK_MAX_ROWS else self._fill_each
        fill(weights, twice_wins, pairs)
        return _divide(twice_wins / 2, pairs, np.nan)

    def _fill_each(self, weights: np.ndarray, twice_wins: np.ndarray, pairs: np.ndarray) -> None:
        neg = np.empty(len(self.negatives), weights.dtype)
        pos = np.empty(len(self.positives), weights.dtype)
        cumulative = np.zeros(len(self.negatives) + 1, np.int64)
        twice_ranked = self._twice_ranked_few_ties if self._few_ties() else self._twice_ranked
        for b, row in enumerate(weights):
            np.take(row, self.negatives, out=neg)
            np.cumsum(neg, dtype=np.int64, out=cumulative[1:])
            np.take(row, self.positives, out=pos)
            twice_wins[b] = twice_ranked(cumulative, pos)
            pairs[b] = int(pos.sum()) * int(cumulative[-1])

    def _fill_blocks(self, weights: np.ndarray, twice_wins: np.ndarray, pairs: np.ndarray) -> None:
        """`_fill_each` for `BLOCK` resamples per numpy call: the same integers."""
        for start in range(0, len(weights), BLOCK):
            block = weights[start : start + BLOCK]
            cumulative = np.zeros((len(block), len(self.negatives) + 1), np.int64)
            np.cumsum(block[:, self.negatives], axis=1, dtype=np.int64, out=cumulative[:, 1:])
            pos = block[:, self.positives].astype(np.int64)
            ranks = cumulative[:, self.below]
            ranks += cumulative[:, self.at_most]
            stop = start + len(block)
            twice_wins[start:stop] = np.einsum("bp,bp->b", ranks, pos)
            pairs[start:stop] = pos.sum(axis=1) * cumulative[:, -1]

    def _few_ties(self) -> bool:
        # the shortcut's gathers over tied positives cost more than it saves past 1/8
        return len(self.tied) * 8 <= len(self.positives)

    def _twice_ranked(self, cumulative: np.ndarray, pos: np.ndarray) -> int:
        ranks = cumulative[self.below] + cumulative[self.at_most]
        return int(np.multiply(ranks, pos, out=ranks).sum())

    def _twice_ranked_few_ties(self, cumulative: np.ndarray, pos: np.ndarray) -> int:
        """Below and at most differ only at the tied positives: 2 * below plus the gap
        there, one gather over all positives instead of two (10% faster at 200k rows,
        distinct scores; the same integers)."""
        ranks = cumulative[self.below]
        tied = self.tied
        gap = cumulative[self.at_most[tied]] - cumulative[self.below[tied]]
        return 2 * int(np.multiply(ranks, pos, out=ranks).sum()) + int((gap * pos[tied]).sum())


def _by_score(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return rows[np.argsort(scores[rows], kind="stable")]


def _score_groups(scores: np.ndarray, positive: np.ndarray) -> Codes | None:
    """Code 2 * (rank of the row's distinct score) + (row is positive)."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1:
        return None
    distinct, group = np.unique(scores, return_inverse=True)
    return Codes.of(2 * group.ravel() + positive, 2 * len(distinct))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("bg,bg->b", a, b)


def roc_auc_from_counts(counts: np.ndarray) -> np.ndarray:
    """Mann-Whitney form, ties count half; groups in ascending score order.

    Integer sums stay exact: 2 * wins = sum(pos * (2 * negatives up to g - neg_g)).
    """
    neg, pos = counts[:, :, 0], counts[:, :, 1]
    twice_wins = 2 * _dot(pos, np.cumsum(neg, axis=1)) - _dot(pos, neg)
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    return _divide(twice_wins / 2, pairs, np.nan)  # one class drawn: undefined, as sklearn


def average_precision_from_counts(counts: np.ndarray) -> np.ndarray:
    """Sum over score thresholds (descending) of recall gain times precision."""
    neg, pos = counts[:, ::-1, 0], counts[:, ::-1, 1]
    tp = np.cumsum(pos, axis=1)
    drawn = tp + np.cumsum(neg, axis=1)
    precision = np.divide(tp, drawn, out=np.zeros(drawn.shape), where=drawn > 0)
    # no positive drawn: sklearn sets recall to 1 everywhere, so AP is 0
    return _divide(_dot(pos, precision), pos.sum(axis=1), 0.0)


def _label_kernel(
    metric: Metric, y_true: np.ndarray, models: Sequence[Predictions], cache: dict[Any, Any]
) -> Kernel | None:
    preds = [np.asarray(response_values(metric, m)) for m in models]
    if any(p.ndim != 1 for p in preds):
        return None
    key = ("label-types", id(y_true), *(id(p) for p in preds))
    if key not in cache:
        cache[key] = _label_types(np.asarray(y_true), preds)
    if cache[key] is None:
        return None
    labels, codes, cells = cache[key]
    score_cells = cell_scorer(metric, labels)
    if score_cells is None:
        return None
    n_labels = len(labels)

    def finish(type_counts: list[np.ndarray], _: np.ndarray | None) -> np.ndarray:
        return np.vstack(
            [score_cells(confusion_from_cells(type_counts[0], c, n_labels)) for c in cells]
        )

    return Kernel((codes,), None, finish)


def _label_types(
    y_true: np.ndarray, preds: list[np.ndarray]
) -> tuple[np.ndarray, Codes, list[np.ndarray]] | None:
    """Labels, each row's (true, pred per model) type code, and each type's cells."""
    try:
        labels = np.unique(np.concatenate([y_true, *preds]))
        row_type = np.searchsorted(labels, y_true)
        for p in preds:
            row_type = row_type * len(labels) + np.searchsorted(labels, p)
    except TypeError:  # mixed label types: leave the verdict to sklearn
        return None
    types, codes = np.unique(row_type, return_inverse=True)
    cells = cells_of_types(types, len(labels), len(preds))
    return labels, Codes.of(codes.ravel(), len(types)), cells


def cells_of_types(types: np.ndarray, n_labels: int, n_models: int) -> list[np.ndarray]:
    """For each model, the confusion cell (true * K + pred) of each row type."""
    digits = []
    rest = types
    for _ in range(n_models):
        digits.append(rest % n_labels)
        rest = rest // n_labels
    true_idx = rest
    return [true_idx * n_labels + d for d in reversed(digits)]


def confusion_from_cells(type_counts: np.ndarray, cells: np.ndarray, n_labels: int) -> np.ndarray:
    """(b, K, K) confusion matrices (rows true, columns predicted) from type counts."""
    n_b = len(type_counts)
    flat = (np.arange(n_b)[:, None] * n_labels**2 + cells[None, :]).ravel()
    counts = np.bincount(flat, weights=type_counts.ravel(), minlength=n_b * n_labels**2)
    return counts.reshape(n_b, n_labels, n_labels)


def cell_scorer(metric: Metric, labels: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    func, kwargs = metric.score_func, dict(metric.kwargs)
    if func is skm.accuracy_score and not kwargs:
        return lambda c: metric.sign * _trace(c) / c.sum(axis=(1, 2))
    if func is skm.balanced_accuracy_score and not kwargs:
        return lambda c: metric.sign * _balanced_accuracy(c)
    if func is skm.matthews_corrcoef and not kwargs:
        return lambda c: metric.sign * _mcc(c)
    if func not in SET_WISE:
        return None
    average = kwargs.pop("average", "binary")
    kwargs.pop("pos_label", None)
    zero_division = kwargs.pop("zero_division", "warn")
    if kwargs or average not in AVERAGES or zero_division not in ("warn", 0, 1):
        return None
    fill = 0.0 if zero_division == "warn" else float(zero_division)
    pos = None
    if average == "binary":
        pos = _binary_position(metric.pos_label, labels)
        if pos is None:
            return None
    return lambda c: metric.sign * _set_wise(func, c, average, pos, fill)


def _binary_position(pos_label: Any, labels: np.ndarray) -> int | None:
    """Index of pos_label among the labels; -1 when absent (scores fill like sklearn).

    None where sklearn raises (more than two labels, pos_label None or foreign).
    """
    if len(labels) > 2 or pos_label is None:
        return None
    hits = np.flatnonzero(labels == pos_label)
    if len(hits) == 0 and len(labels) == 2:
        return None  # sklearn raises: pos_label is not a valid label
    return int(hits[0]) if len(hits) else -1


def _trace(c: np.ndarray) -> np.ndarray:
    return np.einsum("bkk->b", c)


def _divide(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), fill)


def _balanced_accuracy(c: np.ndarray) -> np.ndarray:
    support = c.sum(axis=2)
    recall = _divide(np.einsum("bkk->bk", c), support, 0.0)
    present = support > 0
    return (recall * present).sum(axis=1) / present.sum(axis=1)


def _mcc(c: np.ndarray) -> np.ndarray:
    t, p = c.sum(axis=2), c.sum(axis=1)
    s, correct = c.sum(axis=(1, 2)), _trace(c)
    cov_tp = correct * s - (t * p).sum(axis=1)
    cov_pp = s**2 - (p * p).sum(axis=1)
    cov_tt = s**2 - (t * t).sum(axis=1)
    den = cov_pp * cov_tt
    return _divide(cov_tp, np.sqrt(np.where(den > 0, den, 1)) * (den > 0), 0.0)


def _set_wise(func: Any, c: np.ndarray, average: str, pos: int | None, fill: float) -> np.ndarray:
    """precision / recall / f1 / jaccard with sklearn's label set and averaging."""
    tp = np.einsum("bkk->bk", c)
    true_sum, pred_sum = c.sum(axis=2), c.sum(axis=1)
    if average == "binary":
        assert pos is not None
        if pos < 0:
            return np.full(len(c), fill)
        tp, true_sum, pred_sum = tp[:, [pos]], true_sum[:, [pos]], pred_sum[:, [pos]]
    elif average == "micro":
        tp, true_sum, pred_sum = (a.sum(axis=1, keepdims=True) for a in (tp, true_sum, pred_sum))
    per_label = _per_label(func, tp, true_sum, pred_sum, fill)
    present = (true_sum + pred_sum) > 0 if average == "macro" else np.ones_like(tp, bool)
    weights = true_sum * present if average == "weighted" else present * 1.0
    return (per_label * weights).sum(axis=1) / weights.sum(axis=1)


def _per_label(
    func: Any, tp: np.ndarray, true_sum: np.ndarray, pred_sum: np.ndarray, fill: float
) -> np.ndarray:
    if func is skm.precision_score:
        return _divide(tp, pred_sum, fill)
    if func is skm.recall_score:
        return _divide(tp, true_sum, fill)
    if func is skm.f1_score:
        return _divide(2 * tp, true_sum + pred_sum, fill)
    return _divide(tp, true_sum + pred_sum - tp, fill)
