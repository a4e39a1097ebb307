"""`ci-ml train`: fit the challenger; writes challenger/ (model file + model card)."""

from __future__ import annotations

import shutil
from typing import Any

from ci_ml.datasets import Datasets, load_datasets
from ci_ml.errors import PASSED
from ci_ml.metrics import resolve_metrics
from ci_ml.rundir import write_json_atomic
from ci_ml.training import CARD_NAME, train
from ci_ml.workspace import Workspace, say

PROFILE_NAME = "profile.json"
PREDICTION_SAMPLE = 10_000


def stage(ws: Workspace, data: Datasets | None = None) -> tuple[Any, dict[str, Any]]:
    """The fitted challenger and its model card, both also written to challenger/."""
    resolve_metrics(ws.config.metrics, ws.config.custom_metrics)  # fail before any work
    data = data or load_datasets(ws.config)
    out = ws.run.challenger
    if out.exists():
        shutil.rmtree(out)  # a stale challenger must never be evaluated by mistake
    model, card = train(ws.config, data, out)
    write_json_atomic(out / PROFILE_NAME, training_profile(ws, data, model))
    write_json_atomic(out / CARD_NAME, card)
    return model, card


def training_profile(ws: Workspace, data: Datasets, model: Any) -> dict[str, Any]:
    """A compact profile of the training rows (and of the model's predictions on them),
    kept with the model so later data can be checked for drift without this data."""
    from ci_ml.training import model_features
    from ci_ml.validation import build_profile, profile_values

    seed = ws.config.data.seed
    profile = build_profile(data.train, data.features, data.target, seed=seed)
    kind = "categorical" if ws.config.task == "classification" else "numeric"
    # a sample describes the prediction distribution as well as every row, for less
    rows = data.x_train.sample(n=min(len(data.x_train), PREDICTION_SAMPLE), random_state=seed)
    predictions = model.predict(model_features(rows))
    profile["prediction"] = profile_values(predictions, "prediction", kind, seed)
    return profile


def run(ws: Workspace) -> int:
    _, card = stage(ws)
    rows = card["data"]["train"]["rows_used"]
    say(f"train: {card['estimator']} on {rows} rows in {card['training_seconds']:.2f}s")
    return PASSED
