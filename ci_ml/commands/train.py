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


def stage(ws: Workspace, data: Datasets | None = None) -> tuple[Any, dict[str, Any]]:
    """The fitted challenger and its model card, both also written to challenger/."""
    resolve_metrics(ws.config.metrics, ws.config.custom_metrics)  # fail before any work
    data = data or load_datasets(ws.config)
    out = ws.run.challenger
    if out.exists():
        shutil.rmtree(out)  # a stale challenger must never be evaluated by mistake
    model, card = train(ws.config, data, out)
    write_json_atomic(out / CARD_NAME, card)
    return model, card


def run(ws: Workspace) -> int:
    _, card = stage(ws)
    rows = card["data"]["train"]["rows_used"]
    say(f"train: {card['estimator']} on {rows} rows in {card['training_seconds']:.2f}s")
    return PASSED
