"""Mergeable per-resample summaries of an evaluation, and the metrics they give.

Each batch of eval rows (an Arrow batch on an executor, or a slice of a local
file) is scored by every contender and reduced to one float64 matrix of shape
(1 + resamples, width): row 0 holds the plain sums (every weight 1, the point
values), row 1 + b the sums under resample b's Poisson weights. Summaries of
batches add up, so only this matrix, never a row, leaves a worker. Its columns:

- the total weight;
- label metrics: weight per (y, champion label, challenger label) row type;
- binary ROC AUC / average precision: weight per (score bin, is positive), per
  contender; scores are binned (`bins` equal bins of the probability, or of
  the sigmoid of a decision score), so these two are sketched: the exact ROC
  AUC is within `sketch_bounds[metric]` (half the share of positive-negative
  pairs that share a bin) of the reported one; average precision has no such
  bound (ties within a bin are averaged as sklearn averages equal scores);
- per-row losses (MSE, RMSE, MAE, MSLE, RMSLE, MAPE, log loss): weighted sums
  of l per contender (the point values' and the slices' sums), then of l^2 per
  contender and of l_0 * l_1, for studentized intervals; beside the matrix,
  each contender's largest losses with their row keys, for the heavy-tail
  switch (see `moments`): a `Summary` is both, from the same scored batch;
- r2 / explained variance: sums of y, y^2, residual, residual^2 (y centred on
  its mean, taken in a first pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from ci_ml.comparison.bootstrap import (
    BootstrapResult,
    bootstrap_result,
    paired_deltas,
    studentized_result,
    tested_values,
)
from ci_ml.comparison.kernels import (
    LABEL_FUNCS,
    PER_ROW_LOSSES,
    average_precision_from_counts,
    cell_scorer,
    cells_of_types,
    confusion_from_cells,
    forced_finite_r2,
    roc_auc_from_counts,
    zeroed,
)
from ci_ml.comparison.metrics import (
    Metric,
    Predictions,
    collect_predictions,
    resolve_metric,
    response_values,
    select_method,
)
from ci_ml.engines.moments import (
    MomentSummary,
    TopLosses,
    candidate_rows,
    moment_columns,
    moment_order,
    moment_width,
    poisson_studentized,
)
from ci_ml.engines.poisson import poisson_weights, row_keys
from ci_ml.errors import ConfigError

DEFAULT_BINS = 1024
# weights and bincount indices of one chunk stay under this many cells
_CHUNK_CELLS = 4_000_000
RANKING = (skm.roc_auc_score, skm.average_precision_score)
MOMENT = ("loss", "log-loss")
ROOT = (skm.root_mean_squared_error, skm.root_mean_squared_log_error)
SliceSums = dict[tuple[str, str], np.ndarray]  # (slice column, value as JSON) -> plain sums


@dataclass(frozen=True)
class EvaluationRequest:
    """What to evaluate: columns, metrics and bootstrap settings (no data, no models)."""

    target: str
    features: tuple[str, ...]
    metrics: tuple[str, ...]
    task: str = "classification"  # or "regression"
    resamples: int = 1000
    seed: int = 0
    confidence: float = 0.95
    row_key: tuple[str, ...] = ()  # default: the features and the target
    bins: int = DEFAULT_BINS
    # per model, the columns it was trained on, when they differ from `features`
    model_features: tuple[tuple[str, ...], ...] = ()
    # columns whose values slice the rows: their plain sums come from the same scoring pass
    slice_by: tuple[str, ...] = ()

    def features_of(self, model: int) -> list[str]:
        return list(self.model_features[model] if self.model_features else self.features)

    @property
    def key_columns(self) -> tuple[str, ...]:
        return self.row_key or (*self.features, self.target)

    @property
    def columns(self) -> list[str]:
        used = [c for named in self.model_features for c in named]
        named = [*self.features, *used, self.target, *self.row_key, *self.slice_by]
        return list(dict.fromkeys(named))


@dataclass(frozen=True)
class Slot:
    """Where one metric's statistics sit among the summary's columns."""

    metric: Metric
    kind: str  # label | ranking | loss | log-loss | r2 | explained
    offset: int
    width: int


@dataclass(frozen=True)
class SummaryPlan:
    """Everything a worker needs besides its rows and the models (shipped with them)."""

    request: EvaluationRequest
    slots: tuple[Slot, ...]
    width: int
    n_models: int
    labels: np.ndarray | None  # sorted union of the targets and the models' classes
    y_labels: np.ndarray | None  # the distinct targets (AUC's positive class is the last)
    y_shift: float  # regression: the mean target, so sums of squares stay exact
    n_rows: int  # of the whole eval set: how many top losses a summary keeps

    def summarise(self, frame: pd.DataFrame, models: Sequence[Any]) -> Summary:
        """The summary of one batch of rows."""
        return summarise_batch(self, frame, models)

    @property
    def moment_slots(self) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if s.kind in MOMENT)

    def empty(self) -> Summary:
        """The summary of no rows: what batches' summaries are added to."""
        size = candidate_rows(self.n_rows)
        tops = (TopLosses.empty(size),) * (len(self.moment_slots) * self.n_models)
        return Summary(np.zeros((1 + self.request.resamples, self.width)), tops)


@dataclass(frozen=True)
class Summary:
    """A batch's (or a merge's) summary: the (1 + resamples, width) sums and, per
    moment slot and model (slot-major), the largest losses with their row keys."""

    sums: np.ndarray
    tops: tuple[TopLosses, ...]

    def __add__(self, other: Summary) -> Summary:
        tops = tuple(a.merge(b) for a, b in zip(self.tops, other.tops, strict=True))
        return Summary(self.sums + other.sums, tops)


@dataclass(frozen=True)
class EngineEvaluation:
    """The bootstrap results, challenger first, and how they were computed."""

    results: tuple[BootstrapResult, ...]
    n_rows: int
    engine: str
    sketch_bounds: dict[str, float]
    # per metric, (n_models, resamples) resampled values: what the gate's confidence rules test
    resampled: dict[str, np.ndarray] = field(default_factory=dict)
    # rows (both right, only champion right, only challenger right, both wrong), if known
    agreement: tuple[int, int, int, int] | None = None
    plan: SummaryPlan | None = None  # how the summaries were laid out (slices reuse it)
    # per (slice column, value as JSON), the slice's plain sums (`request.slice_by`)
    slices: SliceSums = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "n_rows": self.n_rows,
            "bootstrap": "poisson",
            "sketch_bounds": self.sketch_bounds,
            "metrics": [r.to_dict() for r in self.results],
        }


def plan_summaries(
    request: EvaluationRequest,
    models: Sequence[Any],
    y_labels: np.ndarray | None,
    y_mean: float,
    n_rows: int,
) -> SummaryPlan:
    """Lay out the summary columns; `y_labels` is None for a regression target;
    `n_rows`: the eval set's rows (moment metrics keep about 4 sqrt(n) top losses)."""
    labels = _labels(y_labels, models)
    slots, offset = [], 1
    for name in request.metrics:
        metric = _resolve(name)
        kind, width = _slot_shape(metric, labels, len(models), request.bins)
        slots.append(Slot(metric, kind, offset, width))
        offset += width
    shift = float(y_mean) if y_labels is None else 0.0
    return SummaryPlan(request, tuple(slots), offset, len(models), labels, y_labels, shift, n_rows)


def _labels(y_labels: np.ndarray | None, models: Sequence[Any]) -> np.ndarray | None:
    if y_labels is None:
        return None
    classes = [np.asarray(getattr(m, "classes_", [])) for m in models]
    return np.unique(np.concatenate([np.asarray(y_labels), *classes]))


def _resolve(name: str) -> Metric:
    try:
        return resolve_metric(name)
    except ValueError as exc:
        raise ConfigError(f"metrics: {exc}") from exc


SUPPORTED = (
    "accuracy, balanced_accuracy, precision/recall/f1/jaccard (binary, micro, macro, "
    "weighted), matthews_corrcoef, roc_auc and average_precision (binary), neg_log_loss, "
    "neg_mean_squared_error, neg_root_mean_squared_error, neg_mean_absolute_error, "
    "neg_mean_squared_log_error, neg_root_mean_squared_log_error, "
    "neg_mean_absolute_percentage_error, r2, explained_variance"
)


def _slot_shape(
    metric: Metric, labels: np.ndarray | None, n_models: int, bins: int
) -> tuple[str, int]:
    shape = None if metric.custom or metric.kwargs else _known_shape(metric, labels, n_models, bins)
    if metric.score_func in LABEL_FUNCS and labels is not None and cell_scorer(metric, labels):
        shape = ("label", len(labels) ** (n_models + 1))
    if shape is None:
        raise ConfigError(
            f"metrics: {metric.name!r} has no mergeable summary, so the Poisson bootstrap "
            f"(engine: spark, or evaluation.bootstrap: poisson) cannot compute it; "
            f"supported: {SUPPORTED}"
        )
    return shape


def _known_shape(
    metric: Metric, labels: np.ndarray | None, n_models: int, bins: int
) -> tuple[str, int] | None:
    """Metrics without kwargs; label metrics (which carry kwargs) are judged above."""
    func = metric.score_func
    if labels is not None and len(labels) == 2 and func in RANKING:
        return "ranking", n_models * 2 * bins
    if func is skm.log_loss and labels is not None:
        return "log-loss", moment_width(n_models)
    if func in PER_ROW_LOSSES:
        return "loss", moment_width(n_models)
    if func in (skm.r2_score, skm.explained_variance_score):
        return ("r2" if func is skm.r2_score else "explained"), 2 + 2 * n_models
    return None


Codes = list[tuple[int, int, np.ndarray]]  # (offset, size, per-row code) to count
Columns = list[tuple[int, np.ndarray]]  # (offset, per-row values) to sum


@dataclass(frozen=True)
class ScoredBatch:
    """One batch scored by every model: what each row adds to the summary's columns."""

    codes: Codes
    columns: Columns
    keys: np.ndarray  # the rows' hashed keys, which draw their Poisson weights


def score_batch(plan: SummaryPlan, frame: pd.DataFrame, models: Sequence[Any]) -> ScoredBatch:
    """Score the batch once with every model: its rows' codes and values per slot."""
    request = plan.request
    metrics = [s.metric for s in plan.slots]
    preds = [_predict(m, frame[request.features_of(k)], metrics) for k, m in enumerate(models)]
    codes, columns = _row_statistics(plan, frame[request.target].to_numpy(), preds)
    return ScoredBatch(codes, columns, row_keys(frame, request.key_columns))


def summarise_batch(plan: SummaryPlan, frame: pd.DataFrame, models: Sequence[Any]) -> Summary:
    """Score the batch with every model and sum its statistics under each resample."""
    return scored_summary(plan, score_batch(plan, frame, models))


def resample_sums(plan: SummaryPlan, scored: ScoredBatch) -> np.ndarray:
    """The (1 + resamples, width) summary of a scored batch."""
    request = plan.request
    out = np.zeros((1 + request.resamples, plan.width))
    for start, stop in _chunks(request.resamples + 1, len(scored.keys)):
        weights = _weights(scored.keys, request.seed, start, stop)
        out[start:stop] = _weighted_sums(plan.width, weights, scored.codes, scored.columns)
    return out


def scored_summary(plan: SummaryPlan, scored: ScoredBatch) -> Summary:
    """A scored batch's summary: its resample sums and its largest losses."""
    return Summary(resample_sums(plan, scored), top_losses(plan, scored))


def top_losses(plan: SummaryPlan, scored: ScoredBatch) -> tuple[TopLosses, ...]:
    """Per moment slot and model, the batch's largest losses (column k of the slot)."""
    columns, size = dict(scored.columns), candidate_rows(plan.n_rows)
    return tuple(
        TopLosses.of(columns[slot.offset][:, k], scored.keys, size)
        for slot in plan.moment_slots
        for k in range(plan.n_models)
    )


def group_sums(plan: SummaryPlan, scored: ScoredBatch, groups: list[np.ndarray]) -> np.ndarray:
    """The plain sums (every weight 1) of each group of a scored batch's rows:
    (len(groups), width). Slices are groups of its rows."""
    out = np.zeros((len(groups), plan.width))
    for index, rows in enumerate(groups):
        picked = [(o, size, code[rows]) for o, size, code in scored.codes]
        columns = [(o, values[rows]) for o, values in scored.columns]
        out[index] = _weighted_sums(plan.width, np.ones((1, len(rows))), picked, columns)[0]
    return out


def point_values(plan: SummaryPlan, sums: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric, each model's value (higher is better) from one row of plain sums."""
    totals = sums[None, :]
    return {s.metric.name: _slot_values(plan, s, totals)[:, 0] for s in plan.slots}


def _predict(model: Any, x: pd.DataFrame, metrics: list[Metric]) -> Predictions:
    from ci_ml.training import model_features

    # the text dtype the model was trained with, whatever the reader produced
    return collect_predictions(model, model_features(x), metrics)


def _chunks(n_weights: int, n_rows: int) -> list[tuple[int, int]]:
    size = max(1, _CHUNK_CELLS // max(n_rows, 1))
    return [(s, min(s + size, n_weights)) for s in range(0, n_weights, size)]


def _weights(keys: np.ndarray, seed: int, start: int, stop: int) -> np.ndarray:
    """Rows 0..: weight row 0 is all ones (the point values), row 1 + b is resample b."""
    if start > 0:
        return poisson_weights(keys, seed, start - 1, stop - 1)
    ones = np.ones((1, len(keys)))
    return np.vstack([ones, poisson_weights(keys, seed, 0, stop - 1)]) if stop > 1 else ones


def _weighted_sums(width: int, weights: np.ndarray, codes: Codes, features: Columns) -> np.ndarray:
    out = np.zeros((len(weights), width))
    out[:, 0] = weights.sum(axis=1)
    for offset, size, code in codes:
        out[:, offset : offset + size] = _weighted_count(weights, code, size)
    for offset, columns in features:
        out[:, offset : offset + columns.shape[1]] = weights @ columns
    return out


def _weighted_count(weights: np.ndarray, code: np.ndarray, size: int) -> np.ndarray:
    """Per weight row, the weight of each code 0..size-1: (b, size)."""
    n_b = len(weights)
    flat = (np.arange(n_b, dtype=np.int64)[:, None] * size + code[None, :]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=n_b * size).reshape(n_b, size)


def _row_statistics(
    plan: SummaryPlan, y: np.ndarray, preds: list[Predictions]
) -> tuple[Codes, Columns]:
    """Per slot: integer codes to count (offset, size, codes) or columns to sum."""
    codes: Codes = []
    features: Columns = []
    for slot in plan.slots:
        if slot.kind == "label":
            codes.append((slot.offset, slot.width, _label_codes(plan, slot.metric, y, preds)))
        elif slot.kind == "ranking":
            per_model = slot.width // plan.n_models
            for k, pred in enumerate(preds):
                code = _score_codes(plan, slot.metric, y, pred)
                codes.append((slot.offset + k * per_model, per_model, code))
        elif slot.kind in MOMENT:
            features += moment_columns(slot.offset, _losses(slot, y, preds))
        else:
            features.append((slot.offset, _feature_columns(plan, slot, y, preds)))
    return codes, features


def _label_index(labels: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    index = np.searchsorted(labels, values).clip(0, len(labels) - 1)
    unknown = labels[index] != values
    if unknown.any():
        raise ValueError(f"{what} holds labels not in {labels.tolist()}: {values[unknown][:3]}")
    return index


def _label_codes(
    plan: SummaryPlan, metric: Metric, y: np.ndarray, preds: list[Predictions]
) -> np.ndarray:
    """Row type (y, label of each model) as in kernels._label_types."""
    assert plan.labels is not None
    labels = plan.labels
    code = _label_index(labels, y, "the target")
    for pred in preds:
        predicted = np.asarray(response_values(metric, pred))
        code = code * len(labels) + _label_index(labels, predicted, "a prediction")
    return code


def _score_codes(plan: SummaryPlan, metric: Metric, y: np.ndarray, pred: Predictions) -> np.ndarray:
    """2 * (score bin) + (row is positive)."""
    assert plan.y_labels is not None
    scores = np.asarray(response_values(metric, pred), dtype=float)
    if select_method(metric, pred) == "decision_function":
        scores = 1.0 / (1.0 + np.exp(-scores))
    bins = plan.request.bins
    binned = np.clip(np.floor(scores * bins), 0, bins - 1).astype(np.int64)
    is_auc = metric.score_func is skm.roc_auc_score
    positive = plan.y_labels[-1] if is_auc else metric.pos_label
    return 2 * binned + (y == positive)


def _losses(slot: Slot, y: np.ndarray, preds: list[Predictions]) -> np.ndarray:
    """Each model's per-row losses of a moment metric: (rows, models)."""
    metric = slot.metric
    if slot.kind == "log-loss":
        return np.column_stack([_log_loss_rows(y, p, metric) for p in preds])
    per_row = PER_ROW_LOSSES[metric.score_func]
    responses = [np.asarray(response_values(metric, p), dtype=float) for p in preds]
    return np.column_stack([per_row(y.astype(float), r) for r in responses])


def _feature_columns(
    plan: SummaryPlan, slot: Slot, y: np.ndarray, preds: list[Predictions]
) -> np.ndarray:
    """r2 / explained variance: the centred target, the residuals and their squares."""
    metric = slot.metric
    y_c = y.astype(float) - plan.y_shift
    columns = [y_c, y_c**2]
    for pred in preds:
        r = y.astype(float) - np.asarray(response_values(metric, pred), dtype=float).ravel()
        columns += [r, r**2]
    return np.column_stack(columns)


def _log_loss_rows(y: np.ndarray, pred: Predictions, metric: Metric) -> np.ndarray:
    """-log of the probability of the true class, clipped as kernels._log_losses does."""
    proba = np.asarray(response_values(metric, pred), dtype=float)
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    assert pred.classes is not None
    picked = proba[np.arange(len(proba)), _label_index(np.asarray(pred.classes), y, "the target")]
    eps = np.finfo(proba.dtype).eps
    return -np.log(np.clip(picked, eps, 1 - eps))


def finish(
    plan: SummaryPlan, summary: Summary, engine: str, slices: SliceSums | None = None
) -> EngineEvaluation:
    """Merged summaries -> one BootstrapResult per metric, challenger first."""
    totals = summary.sums
    n_rows = round(float(totals[0, 0]))
    results, bounds, resampled = [], {}, {}
    for slot in plan.slots:
        result, resampled[slot.metric.name] = _slot_result(plan, slot, summary, n_rows)
        results.append(result)
        if slot.kind == "ranking" and slot.metric.score_func is skm.roc_auc_score:
            bounds[slot.metric.name] = _tie_bound(plan, slot, totals[0])
    agreement = _agreement(plan, totals[0])
    return EngineEvaluation(
        tuple(results), n_rows, engine, bounds, resampled, agreement, plan, slices or {}
    )


def _slot_result(
    plan: SummaryPlan, slot: Slot, summary: Summary, n_rows: int
) -> tuple[BootstrapResult, np.ndarray]:
    """One metric's result and the resampled values the gate tests; moment metrics
    studentized, with the tail switch, as the local bootstrap does."""
    values = _slot_values(plan, slot, summary.sums)
    points = [float(v) for v in values[:, 0]]
    own, deltas = values[:, 1:], paired_deltas(values[:, 1:])
    pivots = None
    if slot.kind in MOMENT:
        pivots = poisson_studentized(slot.metric, _moment_summary(plan, slot, summary))
        own, deltas = pivots.own, pivots.change
    request = plan.request
    method = f"poisson-{slot.kind}"
    result = bootstrap_result(
        slot.metric, points, own, deltas, method, request.confidence, request.seed, n_rows
    )
    if pivots is None:
        return result, own
    return studentized_result(result, pivots), tested_values(own, deltas)


def _moment_summary(plan: SummaryPlan, slot: Slot, summary: Summary) -> MomentSummary:
    index = plan.moment_slots.index(slot) * plan.n_models
    sums = summary.sums[:, slot.offset : slot.offset + slot.width][:, moment_order(plan.n_models)]
    return MomentSummary(
        sums,
        summary.sums[:, 0],
        summary.tops[index : index + plan.n_models],
        plan.n_rows,
        plan.request.seed,
        slot.metric.score_func in ROOT,
    )


def _agreement(plan: SummaryPlan, point_sums: np.ndarray) -> tuple[int, int, int, int] | None:
    """Correctness of challenger and champion, from a label slot's exact row-type counts."""
    slot = next((s for s in plan.slots if s.kind == "label"), None)
    if slot is None or plan.n_models != 2 or plan.labels is None:
        return None
    n = len(plan.labels)
    counts = point_sums[slot.offset : slot.offset + slot.width].reshape(n, n, n)
    y, challenger, champion = np.indices(counts.shape)
    right_c, right_h = challenger == y, champion == y
    cells = (right_c & right_h, right_h & ~right_c, right_c & ~right_h, ~right_c & ~right_h)
    both, only_champion, only_challenger, neither = (round(counts[m].sum()) for m in cells)
    return both, only_champion, only_challenger, neither


def _slot_values(plan: SummaryPlan, slot: Slot, totals: np.ndarray) -> np.ndarray:
    """(n_models, 1 + resamples) metric values, higher is better."""
    sums = totals[:, slot.offset : slot.offset + slot.width]
    metric, weight = slot.metric, totals[:, 0]
    if slot.kind == "label":
        assert plan.labels is not None
        n_labels = len(plan.labels)
        cells = cells_of_types(np.arange(slot.width), n_labels, plan.n_models)
        score_cells = cell_scorer(metric, plan.labels)
        assert score_cells is not None
        return np.vstack([score_cells(confusion_from_cells(sums, c, n_labels)) for c in cells])
    if slot.kind == "ranking":
        rank = (
            roc_auc_from_counts
            if metric.score_func is skm.roc_auc_score
            else average_precision_from_counts
        )
        per_model = np.split(sums, plan.n_models, axis=1)
        return metric.sign * np.vstack([rank(s.reshape(len(s), -1, 2)) for s in per_model])
    if slot.kind in MOMENT:
        mean = (sums[:, : plan.n_models] / weight[:, None]).T
        return metric.sign * (np.sqrt(mean) if metric.score_func in ROOT else mean)
    return metric.sign * _r2_values(sums, weight, plan.n_models, slot.kind == "explained")


def _r2_values(sums: np.ndarray, weight: np.ndarray, n_models: int, explained: bool) -> np.ndarray:
    ss_tot = zeroed(sums[:, 1] - sums[:, 0] ** 2 / weight, sums[:, 1])
    out = []
    for k in range(n_models):
        r_sum, r2_sum = sums[:, 2 + 2 * k], sums[:, 3 + 2 * k]
        ss_res = zeroed(r2_sum - r_sum**2 / weight, r2_sum) if explained else r2_sum
        out.append(forced_finite_r2(ss_res, ss_tot))
    return np.vstack(out)


def _tie_bound(plan: SummaryPlan, slot: Slot, point_sums: np.ndarray) -> float:
    """Largest share, over the models, of positive-negative pairs that share a score bin."""
    sums = point_sums[slot.offset : slot.offset + slot.width]
    shares = []
    for counts in np.split(sums, plan.n_models):
        neg, pos = counts[0::2], counts[1::2]
        pairs = pos.sum() * neg.sum()
        shares.append(float((pos * neg).sum() / pairs) if pairs else 0.0)
    return 0.5 * max(shares)
