"""Spark ML PipelineModels, scored natively on the cluster.

`PipelineModel.load(folder).transform(rows)` runs on the cluster; its
prediction (and class probabilities) become columns of the eval rows, and the
summaries read them through a small adapter, so a Spark model feeds the very
statistics a scikit-learn model does. Spark's classifiers predict label
indices 0..k-1 (a double), so the target must hold those indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ci_ml.bundle import SparkPipeline
from ci_ml.engines.summaries import EvaluationRequest
from ci_ml.errors import EnvironmentProblem

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class ScoredRegressor(RegressorMixin, BaseEstimator):
    """A model whose predictions are already a column of the rows."""

    def __init__(self, prediction: str = "") -> None:
        self.prediction = prediction

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return x[self.prediction].to_numpy(dtype=float)


class ScoredClassifier(ClassifierMixin, BaseEstimator):
    """Predicted label indices and class probabilities, already columns of the rows."""

    def __init__(self, prediction: str = "", probabilities: tuple[str, ...] = ()) -> None:
        self.prediction = prediction
        self.probabilities = probabilities
        self.classes_ = np.arange(len(probabilities))

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return x[self.prediction].to_numpy().round().astype(np.int64)

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return x[list(self.probabilities)].to_numpy(dtype=float)


def score_pipelines(
    frame: DataFrame, request: EvaluationRequest, models: Sequence[Any]
) -> tuple[DataFrame, EvaluationRequest, list[Any]]:
    """Each SparkPipeline's outputs added as columns; it is replaced by their adapter."""
    if not any(isinstance(m, SparkPipeline) for m in models):
        return frame, request, list(models)
    shipped, features = [], []
    for k, model in enumerate(models):
        if isinstance(model, SparkPipeline):
            frame, model = _scored(frame, model, k, request.task)
            features.append(_columns_of(model))
        else:
            features.append(tuple(request.features_of(k)))
        shipped.append(model)
    return frame, replace(request, model_features=tuple(features)), shipped


def _columns_of(model: ScoredClassifier | ScoredRegressor) -> tuple[str, ...]:
    return (model.prediction, *getattr(model, "probabilities", ()))


def _scored(
    frame: DataFrame, model: SparkPipeline, k: int, task: str
) -> tuple[DataFrame, ScoredClassifier | ScoredRegressor]:
    from pyspark.errors import PySparkException
    from pyspark.ml import PipelineModel
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    prefix = f"_ci_ml_m{k}_"
    prediction = F.col("prediction").cast("double").alias(f"{prefix}prediction")
    try:
        out = PipelineModel.load(model.path).transform(frame)
        if task != "classification":
            scored = out.select(*frame.columns, prediction)
            return scored, ScoredRegressor(f"{prefix}prediction")
        out = out.withColumn("_ci_ml_p", vector_to_array(F.col("probability")))
        first = out.select(F.size("_ci_ml_p")).first()
    except PySparkException as exc:
        raise EnvironmentProblem(f"{model.path}: Spark cannot score this model: {exc}") from exc
    names = tuple(f"{prefix}p{j}" for j in range(int(first[0]) if first else 0))
    probabilities = [F.col("_ci_ml_p")[j].alias(name) for j, name in enumerate(names)]
    scored = out.select(*frame.columns, prediction, *probabilities)
    return scored, ScoredClassifier(f"{prefix}prediction", names)
