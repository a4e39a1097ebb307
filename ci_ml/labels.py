"""A model's responses on the eval rows, each computed once.

Labels come from the scores or probabilities already computed when the
estimator's own `predict` is known to derive them the same way (ties
included); every other estimator is asked for `predict`, a second pass.
tests/test_labels.py checks each rule against `predict` itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ci_ml.comparison import Metric, Predictions

# scikit-learn classifiers whose predict() is classes_[scores > 0] (one column) or
# classes_[argmax(scores)] (one column per class), scores being decision_function
_ABOVE_ZERO = {
    "HistGradientBoostingClassifier",
    "LogisticRegression",
    "LogisticRegressionCV",
    "RidgeClassifier",
    "RidgeClassifierCV",
    "SGDClassifier",
    "LinearSVC",
    "Perceptron",
    "PassiveAggressiveClassifier",
}
# ... whose predict() is classes_[scores >= 0] (one column), else the argmax
_AT_LEAST_ZERO = {"GradientBoostingClassifier"}
# ... whose predict() is classes_[argmax(predict_proba)] (a single output)
_PROBA_ARGMAX = {"RandomForestClassifier", "ExtraTreesClassifier"}


def predict_once(model: Any, x: Any, metrics: Sequence[Metric]) -> Predictions:
    """Each response the metrics need, and the labels (McNemar and slices use them)."""
    from sklearn.base import is_classifier

    from ci_ml.comparison import Predictions

    responses = {m: np.asarray(getattr(model, m)(x)) for m in _scores_wanted(model, metrics)}
    classes = getattr(model, "classes_", None) if is_classifier(model) else None
    derive = label_rule(model)
    labels = derive(responses) if derive is not None else None
    if labels is None:
        labels = np.asarray(model.predict(x))
    found = None if classes is None else np.asarray(classes)
    return Predictions(predict=labels, classes=found, **responses)


def _scores_wanted(model: Any, metrics: Sequence[Metric]) -> list[str]:
    """Each metric's first preferred method the model has, as scikit-learn's scorers do."""
    wanted: set[str] = set()
    for metric in metrics:
        have = [m for m in metric.preferred_methods() if hasattr(model, m)]
        wanted.update(have[:1])
    return [m for m in ("predict_proba", "decision_function") if m in wanted]


def label_rule(model: Any) -> Callable[[dict[str, np.ndarray]], np.ndarray | None] | None:
    """How the model's own predict() turns its responses into labels, when known."""
    final = _final_estimator(model)
    kind = type(final)
    classes = getattr(final, "classes_", None)
    if not kind.__module__.startswith("sklearn.") or classes is None:
        return None
    classes = np.asarray(classes)
    if kind.__name__ in _ABOVE_ZERO | _AT_LEAST_ZERO:
        strict = kind.__name__ in _ABOVE_ZERO
        return lambda r: _from_decision(r.get("decision_function"), classes, strict)
    if kind.__name__ in _PROBA_ARGMAX:
        return lambda r: _from_proba(r.get("predict_proba"), classes)
    return None


def _final_estimator(model: Any) -> Any:
    """A scikit-learn Pipeline predicts with its last step (unless it is 'passthrough')."""
    steps = getattr(model, "steps", None)
    if type(model).__module__ == "sklearn.pipeline" and steps:
        return steps[-1][1]
    return model


def _from_decision(scores: np.ndarray | None, classes: np.ndarray, strict: bool) -> Any:
    if scores is None:
        return None
    if scores.ndim == 1:
        positive = scores > 0 if strict else scores >= 0
        return classes[positive.astype(int)]
    return classes[np.argmax(scores, axis=1)]


def _from_proba(proba: np.ndarray | None, classes: np.ndarray) -> Any:
    if proba is None or proba.ndim != 2 or classes.ndim != 1:
        return None
    return classes.take(np.argmax(proba, axis=1), axis=0)
