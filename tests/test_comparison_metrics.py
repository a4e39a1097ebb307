from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.svm import LinearSVC

from ci_ml.comparison.metrics import Predictions, collect_predictions, resolve_metric, score

CLASSIFICATION = [
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_weighted",
    "f1_micro",
    "precision_macro",
    "recall_weighted",
    "roc_auc_ovr",
    "neg_log_loss",
    "jaccard_macro",
]
BINARY_ONLY = ["f1", "precision", "recall", "roc_auc", "average_precision", "neg_brier_score"]
REGRESSION = [
    "r2",
    "neg_mean_squared_error",
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
    "neg_median_absolute_error",
    "explained_variance",
    "neg_mean_absolute_percentage_error",
    "neg_max_error",
]


def stored(estimator: object, X: np.ndarray) -> Predictions:
    """What the evaluate stage keeps: every response the estimator offers."""
    responses = {
        m: getattr(estimator, m)(X)
        for m in ("predict", "predict_proba", "decision_function")
        if hasattr(estimator, m)
    }
    return Predictions(**responses, classes=getattr(estimator, "classes_", None))


def test_collect_predictions_keeps_what_the_metrics_need() -> None:
    X_fit, y_fit, X, y = classification(2, ["cat", "dog"])
    est = LogisticRegression().fit(X_fit, y_fit)
    metrics = [resolve_metric(n) for n in ("roc_auc", "neg_log_loss", "accuracy")]
    preds = collect_predictions(est, X, metrics)
    assert preds.available() == ("predict", "predict_proba", "decision_function")
    assert preds.classes is not None and list(preds.classes) == ["cat", "dog"]
    for metric in metrics:
        assert score(metric, y, preds) == get_scorer(metric.name)(est, X, y)
    only_labels = collect_predictions(est, X, [resolve_metric("accuracy")])
    assert only_labels.available() == ("predict",)
    X_r, y_r = make_regression(n_samples=50, n_features=3, random_state=0)
    reg = collect_predictions(LinearRegression().fit(X_r, y_r), X_r, [resolve_metric("r2")])
    assert reg.classes is None and reg.available() == ("predict",)


def classification(n_classes: int, labels: list | None = None) -> tuple:
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=1
    )
    if labels is not None:
        y = np.asarray(labels)[y]
    return X[:200], y[:200], X[200:], y[200:]


@pytest.mark.parametrize("labels", [None, ["cat", "dog"], [True, False]])
@pytest.mark.parametrize("name", CLASSIFICATION + BINARY_ONLY)
def test_binary_scores_equal_sklearn_scorer(name: str, labels: list | None) -> None:
    X_fit, y_fit, X, y = classification(2, labels)
    for est in (LogisticRegression().fit(X_fit, y_fit), LinearSVC().fit(X_fit, y_fit)):
        metric = resolve_metric(name)
        try:
            expected = get_scorer(name)(est, X, y)
        except (ValueError, AttributeError) as exc:
            # sklearn refuses (pos_label=1 with string labels, no predict_proba): so do we
            with pytest.raises(ValueError):
                score(metric, y, stored(est, X))
            assert isinstance(exc, ValueError | AttributeError)
            continue
        assert score(metric, y, stored(est, X)) == expected


@pytest.mark.parametrize("labels", [None, ["a", "b", "c"]])
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_multiclass_scores_equal_sklearn_scorer(name: str, labels: list | None) -> None:
    X_fit, y_fit, X, y = classification(3, labels)
    est = LogisticRegression().fit(X_fit, y_fit)
    assert score(resolve_metric(name), y, stored(est, X)) == get_scorer(name)(est, X, y)


@pytest.mark.parametrize("name", REGRESSION)
def test_regression_scores_equal_sklearn_scorer(name: str) -> None:
    X, y = make_regression(n_samples=200, n_features=4, noise=10.0, random_state=2)
    est = LinearRegression().fit(X[:120], y[:120])
    expected = get_scorer(name)(est, X[120:], y[120:])
    assert score(resolve_metric(name), y[120:], est.predict(X[120:])) == expected


def test_loss_metadata_comes_from_the_scorer() -> None:
    metric = resolve_metric("neg_mean_squared_error")
    assert metric.sign == -1 and not metric.greater_is_better
    assert metric.display_name == "mean_squared_error"
    assert metric.display_value(-2.5) == 2.5
    assert resolve_metric("roc_auc").preferred_methods() == ("decision_function", "predict_proba")
    assert resolve_metric("f1_macro").kwargs == {"pos_label": None, "average": "macro"}
    assert resolve_metric("accuracy").to_dict()["response_method"] == ["predict"]


def test_unknown_name_lists_close_matches() -> None:
    with pytest.raises(ValueError, match=r"did you mean.*f1_macro"):
        resolve_metric("f1_macr")


def cost(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sum(y_true != y_pred) * 2.0)


def test_custom_module_function_metric() -> None:
    metric = resolve_metric(f"{__name__}:cost", greater_is_better=False)
    assert metric.custom and metric.sign == -1
    assert score(metric, np.array([1, 0, 1]), np.array([1, 1, 0])) == -4.0
    assert metric.display_value(score(metric, np.array([1]), np.array([0]))) == 2.0
    with pytest.raises(ValueError, match="cannot be imported"):
        resolve_metric("no_such_module_xyz:f")


def test_missing_response_is_named() -> None:
    with pytest.raises(ValueError, match="predict_proba"):
        score(resolve_metric("neg_log_loss"), np.array([0, 1]), np.array([0, 1]))


def test_nan_predictions_are_refused_like_sklearn() -> None:
    with pytest.raises(ValueError):
        score(resolve_metric("r2"), np.array([1.0, 2.0, 3.0]), np.array([1.0, np.nan, 3.0]))
