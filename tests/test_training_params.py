"""Estimator parameters are checked before any data is read, by the estimator's own rules,
and only where the estimator declares them (another package's estimator checks in `fit`)."""

from __future__ import annotations

import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.utils._param_validation import InvalidParameterError

from ci_ml.training import _validate_params


class OwnPackageClassifier(ClassifierMixin, BaseEstimator):
    """Like lightgbm's or xgboost's: the scikit-learn API, no `_parameter_constraints`."""

    def __init__(self, n_estimators: int = 10) -> None:
        self.n_estimators = n_estimators


def test_an_estimator_without_declared_constraints_is_left_to_its_own_fit() -> None:
    _validate_params(OwnPackageClassifier(n_estimators=-5))  # no AttributeError, no verdict


def test_a_scikit_learn_estimator_refuses_a_bad_parameter_before_any_data() -> None:
    with pytest.raises(InvalidParameterError, match="n_estimators"):
        _validate_params(RandomForestClassifier(n_estimators=-5))
