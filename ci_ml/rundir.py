"""The run directory: the contract between stages, so each can be its own CI step.

validation.json     validate   data checks (and drift, when a champion exists)
challenger/         train      model file, model-card.json
predictions.parquet evaluate   challenger and champion predictions on the eval rows
metrics.json        evaluate   both models scored on the very same rows
decision.json       gate       each rule: value, threshold, passed, reason
report.json/.md     report     everything above, for people and machines
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ci_ml.errors import EnvironmentProblem

DEFAULT_RUN_DIR = ".ci-ml/run"

_PRODUCED_BY = {
    "validation.json": "validate",
    "challenger/model-card.json": "train",
    "metrics.json": "evaluate",
    "decision.json": "gate",
    "report.json": "report",
}


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def challenger(self) -> Path:
        return self.path / "challenger"

    @property
    def predictions(self) -> Path:
        return self.path / "predictions.parquet"

    def file(self, name: str) -> Path:
        return self.path / name

    def read(self, name: str) -> dict[str, Any]:
        path = self.path / name
        if not path.is_file():
            stage = _PRODUCED_BY.get(name, "an earlier stage")
            raise EnvironmentProblem(
                f"{path}: not found; run `ci-ml {stage}` first (or `ci-ml check`)"
            )
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(f"{path}: unreadable or corrupt JSON: {exc}") from exc
        return data

    def write(self, name: str, data: dict[str, Any]) -> Path:
        path = self.path / name
        write_json_atomic(path, data)
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        write_text_atomic(path, text)
        return path


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside the target, then rename: a crash never leaves half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from exc
