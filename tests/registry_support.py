"""Helpers shared by the registry tests: a trained model folder and a requester."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression

from ci_ml.modelfile import save_model
from ci_ml.registry.base import Who

WHO = Who(actor="tester", at="2026-01-01T00:00:00+00:00", commit="abc", reason="test")


def trained_folder(tmp_path: Path, name: str, extra: dict[str, Any] | None = None) -> Path:
    """A challenger folder as `ci-ml train` writes it: model file and model card."""
    folder = tmp_path / name
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    model_file = save_model(model, folder)
    card = {
        "name": name,
        "estimator": "sklearn.linear_model.LogisticRegression",
        "model_file": model_file.to_dict(),
        "git": {"commit": "c0ffee" + name, "dirty": False},
        "data": {"train": {"sha256": "1" * 64}, "eval": {"sha256": "2" * 64}},
        "metrics": {"accuracy": 0.75, "f1": 0.5},
        **(extra or {}),
    }
    (folder / "model-card.json").write_text(json.dumps(card))
    return folder
