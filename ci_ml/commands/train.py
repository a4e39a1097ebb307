"""`ci-ml train`: fit the challenger; writes challenger/ (model file + model card)."""

from __future__ import annotations

from ci_ml.datasets import load_datasets
from ci_ml.errors import PASSED
from ci_ml.output import Output
from ci_ml.stages.train import Trained, fit
from ci_ml.training import check_setup
from ci_ml.workspace import Workspace, show_result


def run(ws: Workspace, output_format: str = "text") -> int:
    check_setup(ws.config)  # a config mistake fails before the data is read
    trained = fit(ws.config, ws.run, load_datasets(ws.config))
    show_result(view(trained), output_format)
    return PASSED


def view(trained: Trained) -> Output:
    """The JSON is the model card exactly as written to challenger/model-card.json."""
    card = trained.card
    rows: list[list[object]] = [
        ["estimator", trained.estimator],
        ["training rows", trained.rows],
        ["seconds", round(trained.seconds, 2)],
        ["config hash", str(card.get("config_hash") or "")[:12]],
        ["commit", str((card.get("git") or {}).get("commit") or "")[:12]],
        ["created", card.get("created_at")],
    ]
    headline = f"train: {trained.estimator} on {trained.rows} rows in {trained.seconds:.2f}s"
    return Output(card, headline, ["", "challenger"], rows)
