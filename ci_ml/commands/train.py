"""`ci-ml train`: fit the challenger; writes challenger/ (model file + model card)."""

from __future__ import annotations

from ci_ml.datasets import load_datasets
from ci_ml.errors import PASSED
from ci_ml.stages.train import fit
from ci_ml.workspace import Workspace, say


def run(ws: Workspace) -> int:
    trained = fit(ws.config, ws.run, load_datasets(ws.config))
    say(f"train: {trained.estimator} on {trained.rows} rows in {trained.seconds:.2f}s")
    return PASSED
