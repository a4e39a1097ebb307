"""Metrics as scikit-learn scorers, computed from stored predictions.

The evaluate stage stores what each model returned on the eval rows (labels,
probabilities, decision scores and the class order), so the gate and the report
score without an estimator. `score` reproduces `get_scorer(name)(est, X, y)`:
same score function, same kwargs, same sign, and the same response processing
(binary probabilities reduced to the positive class column, decision scores
flipped when the positive label is `classes[0]`).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import get_scorer, get_scorer_names

RESPONSE_METHODS = ("predict", "predict_proba", "decision_function")


@dataclass(frozen=True)
class Predictions:
    """What one model returned on the eval rows; `classes` orders the columns.

    `classes` is None for a regressor (sklearn passes no pos_label then).
    """

    predict: np.ndarray | None = None
    predict_proba: np.ndarray | None = None
    decision_function: np.ndarray | None = None
    classes: np.ndarray | None = None

    def available(self) -> tuple[str, ...]:
        return tuple(m for m in RESPONSE_METHODS if getattr(self, m) is not None)

    def n_rows(self) -> int:
        arrays = [np.asarray(getattr(self, m)) for m in self.available()]
        if not arrays:
            raise ValueError("Predictions holds no response (predict, predict_proba, ...)")
        return len(arrays[0])

    def take(self, rows: np.ndarray) -> Predictions:
        """The same predictions restricted to (or resampled by) `rows`."""
        picked = {m: np.asarray(getattr(self, m))[rows] for m in self.available()}
        return Predictions(**picked, classes=self.classes)


PredictionsLike = Predictions | np.ndarray


def as_predictions(value: PredictionsLike) -> Predictions:
    """A bare array is taken as the output of `predict`."""
    if isinstance(value, Predictions):
        return value
    return Predictions(predict=np.asarray(value))


@dataclass(frozen=True)
class Metric:
    """A scorer: `sign * score_func(y_true, response, **kwargs)`, higher is better."""

    name: str
    score_func: Callable[..., Any]
    kwargs: Mapping[str, Any] = field(default_factory=dict, hash=False)
    sign: int = 1
    response_method: str | tuple[str, ...] = "predict"
    pos_label: Any = None
    custom: bool = False

    @property
    def greater_is_better(self) -> bool:
        return self.sign > 0

    @property
    def display_name(self) -> str:
        """Losses are shown as themselves: `neg_mean_squared_error` -> `mean_squared_error`."""
        if self.sign < 0 and self.name.startswith("neg_"):
            return self.name[len("neg_") :]
        return self.name

    def display_value(self, value: float | None) -> float | None:
        """A scorer value (higher is better) in the units of `display_name`."""
        return None if value is None else value * self.sign

    def preferred_methods(self) -> tuple[str, ...]:
        if isinstance(self.response_method, str):
            return (self.response_method,)
        return tuple(self.response_method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "greater_is_better": self.greater_is_better,
            "response_method": list(self.preferred_methods()),
            "kwargs": {k: _jsonable(v) for k, v in self.kwargs.items()},
            "custom": self.custom,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def _default_pos_label(score_func: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """As `_BaseScorer._get_pos_label`: the kwarg, else the function's default."""
    if "pos_label" in kwargs:
        return kwargs["pos_label"]
    try:
        params = inspect.signature(score_func).parameters
    except (TypeError, ValueError):
        return None
    return params["pos_label"].default if "pos_label" in params else None


def resolve_metric(
    name: str,
    *,
    greater_is_better: bool = True,
    response_method: str | tuple[str, ...] = "predict",
    kwargs: Mapping[str, Any] | None = None,
) -> Metric:
    """A scikit-learn scorer name, or a custom `module:function` metric.

    The keyword arguments describe custom metrics only; for scorer names
    everything is read from the scorer object.
    """
    if ":" in name:
        return _custom_metric(name, greater_is_better, response_method, dict(kwargs or {}))
    if name not in get_scorer_names():
        close = difflib.get_close_matches(name, get_scorer_names(), n=5, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown metric {name!r}: not a scikit-learn scorer name "
            f"(see sklearn.metrics.get_scorer_names()) nor 'module:function'{hint}"
        )
    scorer = get_scorer(name)
    return Metric(
        name=name,
        score_func=scorer._score_func,
        kwargs=dict(scorer._kwargs),
        sign=int(scorer._sign),
        response_method=scorer._response_method,
        pos_label=_default_pos_label(scorer._score_func, scorer._kwargs),
    )


def _custom_metric(
    name: str, greater_is_better: bool, response_method: str | tuple[str, ...], kwargs: dict
) -> Metric:
    module_name, _, attr = name.partition(":")
    try:
        func = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"custom metric {name!r} cannot be imported: {exc}") from exc
    methods = (response_method,) if isinstance(response_method, str) else response_method
    unknown = [m for m in methods if m not in RESPONSE_METHODS]
    if unknown or not callable(func):
        raise ValueError(
            f"custom metric {name!r}: expected a callable and response methods among "
            f"{RESPONSE_METHODS}, found {type(func).__name__} and {list(methods)}"
        )
    return Metric(
        name=name,
        score_func=func,
        kwargs=kwargs,
        sign=1 if greater_is_better else -1,
        response_method=response_method,
        pos_label=_default_pos_label(func, kwargs),
        custom=True,
    )


def select_method(metric: Metric, predictions: Predictions) -> str:
    """The first preferred response method the stored predictions have."""
    for method in metric.preferred_methods():
        if getattr(predictions, method) is not None:
            return method
    raise ValueError(
        f"metric {metric.name!r} needs one of {list(metric.preferred_methods())}; "
        f"the stored predictions hold {list(predictions.available())}"
    )


def positive_label(metric: Metric, predictions: Predictions) -> Any:
    """The effective positive class, as `_get_response_values` picks it."""
    classes = predictions.classes
    if classes is None or len(classes) != 2:
        return None
    pos_label = metric.pos_label
    if pos_label is None:
        return classes[-1]
    if pos_label not in np.asarray(classes).tolist():
        raise ValueError(
            f"pos_label={pos_label} is not a valid label: It should be one of {classes}"
        )
    return pos_label


def response_values(metric: Metric, predictions: Predictions) -> np.ndarray:
    """The array sklearn's scorer would hand to the score function."""
    method = select_method(metric, predictions)
    values = np.asarray(getattr(predictions, method))
    pos_label = positive_label(metric, predictions)
    if pos_label is None or method == "predict":
        return values
    classes = np.asarray(predictions.classes)
    if method == "predict_proba":
        return values[:, np.flatnonzero(classes == pos_label)[0]]
    return -values if pos_label == classes[0] else values


def score(metric: Metric, y_true: np.ndarray, predictions: PredictionsLike) -> float:
    """The scorer value (higher is better) from stored predictions."""
    preds = as_predictions(predictions)
    y_pred = response_values(metric, preds)
    return float(metric.sign * metric.score_func(np.asarray(y_true), y_pred, **metric.kwargs))


def collect_predictions(estimator: Any, X: Any, metrics: Sequence[Metric]) -> Predictions:
    """For the evaluate stage: each response the metrics need, predicted once.

    Takes each metric's first preferred method the estimator has, as sklearn's
    scorer does, plus `predict` (McNemar and slices of labels use it).
    """
    wanted = {"predict"}
    for metric in metrics:
        have = [m for m in metric.preferred_methods() if hasattr(estimator, m)]
        wanted.update(have[:1])
    responses = {m: np.asarray(getattr(estimator, m)(X)) for m in RESPONSE_METHODS if m in wanted}
    classes = getattr(estimator, "classes_", None) if is_classifier(estimator) else None
    return Predictions(**responses, classes=None if classes is None else np.asarray(classes))
