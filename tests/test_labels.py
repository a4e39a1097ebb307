"""Labels derived from scores equal the estimator's own predict(), ties included."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from ci_ml.comparison.metrics import resolve_metric
from ci_ml.labels import label_rule, predict_once

RANKING = [resolve_metric("roc_auc"), resolve_metric("accuracy")]
PROBABILITIES = [resolve_metric("neg_log_loss"), resolve_metric("accuracy")]


def _data(classes: int, rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(rows, 4)), columns=list("abcd"))
    # coarse values: many rows share a leaf, so probabilities tie
    x = x.round(0)
    names = np.array(["ant", "bee", "cat", "dog"][:classes])
    return x, names[rng.integers(0, classes, size=rows)]


ESTIMATORS = [
    HistGradientBoostingClassifier(max_iter=5, random_state=0),
    GradientBoostingClassifier(n_estimators=5, random_state=0),
    RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0),
    ExtraTreesClassifier(n_estimators=2, max_depth=2, random_state=0),
    LogisticRegression(max_iter=200),
    RidgeClassifier(),
    SGDClassifier(random_state=0),
    LinearSVC(),
]


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("metrics", [RANKING, PROBABILITIES], ids=["ranking", "proba"])
def test_labels_equal_predict(estimator: Any, classes: int, metrics: list[Any]) -> None:
    x, y = _data(classes)
    for model in (estimator, make_pipeline(StandardScaler(), estimator)):
        model.fit(x, y)
        got = predict_once(model, x, metrics)
        assert np.array_equal(got.predict, model.predict(x))


def test_ties_go_where_predict_sends_them() -> None:
    """Every score exactly 0 (or every probability equal): predict's own tie-breaking."""
    x, y = _data(2)
    linear = LogisticRegression().fit(x, y)
    linear.coef_[:] = 0.0
    linear.intercept_[:] = 0.0
    boosted = HistGradientBoostingClassifier(max_iter=1).fit(np.zeros((4, 1)), [0, 1, 0, 1])
    gradient = GradientBoostingClassifier(n_estimators=1).fit(np.zeros((4, 1)), [0, 1, 0, 1])
    forest = RandomForestClassifier(n_estimators=2, random_state=0).fit(
        np.zeros((4, 1)), ["b", "a", "b", "a"]
    )
    for model, rows in ((linear, x), (boosted, np.zeros((3, 1))), (gradient, np.zeros((3, 1)))):
        assert np.all(model.decision_function(rows) == 0)
        assert np.array_equal(predict_once(model, rows, RANKING).predict, model.predict(rows))
    rows = np.zeros((3, 1))
    assert np.all(forest.predict_proba(rows) == 0.5)
    assert np.array_equal(predict_once(forest, rows, PROBABILITIES).predict, forest.predict(rows))


@pytest.mark.parametrize(
    "model",
    [CalibratedClassifierCV(SVC()), KNeighborsClassifier(), SVC()],
    ids=["calibrated", "knn", "svc"],
)
def test_unproven_estimators_are_asked_for_predict(model: Any) -> None:
    """Probabilities that can disagree with predict() (calibrated, SVC): predict() is called."""
    x, y = _data(3)
    model.fit(x, y)
    assert label_rule(model) is None
    got = predict_once(model, x, PROBABILITIES + RANKING)
    assert np.array_equal(got.predict, model.predict(x))


def test_each_response_is_computed_once() -> None:
    calls: list[str] = []

    class Counting(HistGradientBoostingClassifier):
        def decision_function(self, X: Any) -> Any:
            calls.append("decision_function")
            return super().decision_function(X)

        def predict(self, X: Any) -> Any:
            calls.append("predict")
            return super().predict(X)

    x, y = _data(2)
    model = HistGradientBoostingClassifier(max_iter=5).fit(x, y)
    got = predict_once(model, x, RANKING)
    assert got.decision_function is not None and got.predict_proba is None
    # a subclass is not proven to predict like its parent: it is asked
    counting = Counting(max_iter=5).fit(x, y)
    predict_once(counting, x, RANKING)
    assert calls == ["decision_function", "predict"]
