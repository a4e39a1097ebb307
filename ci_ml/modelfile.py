"""Model files: kept as an import path; the model bundle lives in ci_ml.bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_ml.bundle import (
    LoadedModel,
    ModelFile,
    load_model,
    open_model,
    save_model,
    verify,
)

__all__ = [
    "LoadedModel",
    "ModelFile",
    "load_model",
    "model_file_from_card",
    "open_model",
    "save_model",
    "verify",
]


def model_file_from_card(folder: Path, card: dict[str, Any]) -> ModelFile:
    """The model file a freshly trained card describes (never a registry's champion:
    that one comes from `Registry.model_file`, vouched by the pointer)."""
    return ModelFile.from_dict(
        folder, card.get("model_file"), f"{folder}: model card", card.get("libraries")
    )
