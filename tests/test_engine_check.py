"""`ci-ml check` through the engines: `bootstrap: poisson` on the runner, `engine: spark`.

The spark tests run the whole command against the session's Spark Connect
server (local mode) and compare it with the local engine on the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from sklearn.metrics import roc_auc_score

from ci_ml.comparison import mcnemar_exact
from ci_ml.config import load_config, load_schema
from ci_ml.engines import EvaluationRequest, parse_source
from ci_ml.engines.local import LocalEngine
from ci_ml.modelfile import load_model, model_file_from_card
from ci_ml.registry import open_registry
from ci_ml.training import CARD_NAME
from ci_ml.stages import cluster
from tests.spark_support import FEATURES, eval_rows, spark_engine, write_parts

__all__ = ["spark_engine"]  # the session fixture

METRICS = ["accuracy", "roc_auc", "neg_log_loss", "f1"]


def config_text(data: dict[str, str], engine: str = "local", **extra: Any) -> str:
    config = {
        "version": 1,
        "name": "lake",
        "task": "classification",
        "data": {**data, "target": "y", "drop": ["id"]},
        "model": {
            "estimator": extra.pop("estimator", "sklearn.tree.DecisionTreeClassifier"),
            "params": {"max_depth": 4, "random_state": 0},
        },
        "metrics": METRICS,
        "evaluation": {"bootstrap": "poisson", "resamples": 200, "row_key": ["id"]},
        "gate": [
            {"metric": "accuracy", "min": 0.6},
            {"metric": "roc_auc", "max_regression": 0.05, "confidence": 0.9},
        ],
        "drift": {"enabled": False},
        "registry": {"backend": "local", "path": ".ci-ml/registry"},
        "engine": engine,
        **extra,
    }
    return json.dumps(config)  # JSON is YAML


def rows(seed: int, n_rows: int = 3000) -> pd.DataFrame:
    frame = eval_rows(n_rows, "classification", seed)
    frame["id"] += seed * n_rows  # distinct ids across files
    return frame


def local_project(root: Path) -> Path:
    """Train and eval as one Parquet file each; two configs: a first and a fresh train."""
    root.mkdir()
    for name, seed in {"train_a": 1, "train_b": 2, "eval": 3}.items():
        rows(seed).to_parquet(root / f"{name}.parquet", index=False)
    for name in ("a", "b"):
        data = {"train": f"train_{name}.parquet", "eval": "eval.parquet"}
        (root / f"ci-ml.{name}.yaml").write_text(config_text(data))
    return root


def metrics_json(project: Path) -> dict[str, Any]:
    return json.loads((project / ".ci-ml/run/metrics.json").read_text())


def report_json(project: Path) -> dict[str, Any]:
    return json.loads((project / ".ci-ml/run/report.json").read_text())


def test_poisson_bootstrap_runs_the_check_and_the_gate(tmp_path: Path, run_cli) -> None:
    project = local_project(tmp_path / "local")
    assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
    result = run_cli("check", "-c", "ci-ml.b.yaml", cwd=project)
    assert result.code in (0, 1), result.err
    record = metrics_json(project)
    assert record["comparison"]["bootstrap"] == "poisson"
    assert record["comparison"]["engine"] == "local"
    bound = record["comparison"]["sketch_bounds"]["roc_auc"]
    schema = Draft202012Validator(load_schema("evaluation.schema.json"))
    assert list(schema.iter_errors(record)) == []
    assert not (project / ".ci-ml/run/predictions.parquet").exists()
    # the very numbers the engine library gives on the eval file, with both models
    models = [_challenger(project), _champion(project)]
    expected = LocalEngine().evaluate(
        parse_source(project / "eval.parquet"), _request(), models
    )
    for found in expected.results:
        entry = record["metrics"][found.metric]
        assert entry["challenger"] == pytest.approx(found.challenger, abs=1e-12)
        assert entry["interval"]["low"] == pytest.approx(found.delta_interval.low, abs=1e-12)
        assert entry["method"] == found.method
    # McNemar from the summaries' exact row-type counts, as from the row predictions
    frame = pd.read_parquet(project / "eval.parquet")
    x = frame[list(FEATURES)]
    exact = mcnemar_exact(frame["y"], models[1].predict(x), models[0].predict(x))
    auc = roc_auc_score(frame["y"], models[0].predict_proba(x)[:, 1])
    assert abs(record["metrics"]["roc_auc"]["challenger"] - auc) <= bound
    assert record["mcnemar"] == pytest.approx(exact.to_dict())
    # the gate judged the confidence rule on the engine's resampled values
    rule = next(r for r in report_json(project)["rules"] if r["metric"] == "roc_auc")
    assert rule["status"] in ("pass", "fail") and rule["p_value"] is not None


def _request() -> EvaluationRequest:
    return EvaluationRequest("y", FEATURES, tuple(METRICS), resamples=200, row_key=("id",))


def _challenger(project: Path) -> Any:
    folder = project / ".ci-ml/run/challenger"
    card = json.loads((folder / CARD_NAME).read_text())
    return load_model(model_file_from_card(folder, card))


def _champion(project: Path) -> Any:
    registry = open_registry(load_config(project / "ci-ml.b.yaml"))
    version = registry.champion()
    assert version is not None
    return load_model(registry.model_file(version.number))


def test_slices_are_refused_by_name_under_the_poisson_engine(tmp_path: Path, run_cli) -> None:
    project = local_project(tmp_path / "local")
    data = {"train": "train_a.parquet", "eval": "eval.parquet"}
    text = config_text(data, evaluation={"bootstrap": "poisson", "slice_by": ["a"]})
    (project / "ci-ml.yaml").write_text(text)
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "evaluation.slice_by" in result.err and "poisson" in result.err
