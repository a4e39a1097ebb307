"""A Spark ML PipelineModel as the model: trained by the team's own `model.command`
Spark job, sealed as a folder, stored in the registry, scored on the cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from ci_ml.config import load_config
from ci_ml.registry import open_registry
from tests.spark_support import eval_rows, on_cluster, spark_engine, write_parts

pytestmark = pytest.mark.spark
__all__ = ["on_cluster", "spark_engine"]  # the fixtures

TRAIN_JOB = """
import os, sys

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession


def main() -> None:  # the fitted model is released on return: at exit the client would hang
    spark = SparkSession.builder.remote(os.environ["CI_ML_SPARK_REMOTE"]).getOrCreate()
    rows = spark.read.parquet(os.environ["CI_ML_TRAIN_SOURCE"])
    features = os.environ["CI_ML_FEATURES"].split(",")
    model = Pipeline(stages=[
        VectorAssembler(inputCols=features, outputCol="features"),
        LogisticRegression(labelCol=os.environ["CI_ML_TARGET"], regParam=float(sys.argv[1])),
    ]).fit(rows)
    model.write().overwrite().save(os.environ["CI_ML_SPARK_MODEL_PATH"])


main()
"""


def spark_ml_project(root: Path) -> Path:
    """Two configs whose `model.command` trains a PipelineModel (a and b differ)."""
    root.mkdir()
    for name, seed in {"train": 1, "eval": 3}.items():
        frame = eval_rows(2000, "classification", seed)
        frame["id"] += seed * 2000
        frame["half"] = np.where(frame["a"] > 0, "high", "low")  # a slice, not a feature
        write_parts(frame, root / name, parts=2)
    (root / "train_job.py").write_text(TRAIN_JOB)
    for name, reg in {"a": "0.0", "b": "3.0"}.items():
        config = {
            "version": 1,
            "name": "spark-ml",
            "task": "classification",
            "data": {"train": "train", "eval": "eval", "target": "y", "drop": ["id", "half"]},
            "model": {"command": ["python", "train_job.py", reg]},
            "metrics": ["accuracy", "neg_log_loss", "roc_auc"],
            "evaluation": {
                "bootstrap": "poisson",
                "resamples": 100,
                "row_key": ["id"],
                "slice_by": ["half"],
            },
            "gate": [{"metric": "accuracy", "min": 0.5}],
            "drift": {"enabled": False},
            "validation": {"enabled": False},
            "registry": {"backend": "local", "path": ".ci-ml/registry"},
            "engine": {"name": "spark", "spark": {"remote": "local[2]"}},
        }
        (root / f"ci-ml.{name}.yaml").write_text(json.dumps(config))
    return root


def spark_predictions(session: Any, model: Path, eval_folder: Path) -> Any:
    """The model's own predictions on the eval rows, collected (the test may; ci-ml not)."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.functions import vector_to_array

    scored = PipelineModel.load(str(model)).transform(session.read.parquet(str(eval_folder)))
    probability = vector_to_array("probability").alias("p")
    return scored.select("y", "half", "prediction", probability).toPandas()


def test_a_pipeline_model_is_trained_sealed_stored_and_gated_on_the_cluster(
    tmp_path: Path, run_cli: Any, on_cluster: Any
) -> None:
    project = spark_ml_project(tmp_path / "project")
    first = run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project)
    assert first.code == 0, first.err
    registry = open_registry(load_config(project / "ci-ml.a.yaml"))
    champion = registry.model_file(1)
    assert champion.format == "spark-pipeline" and champion.path.name == "model.sparkml"
    assert (champion.path / "metadata").is_dir() and (champion.path / "stages").is_dir()
    pointer = json.loads((project / ".ci-ml/registry/champion.json").read_text())
    assert pointer["models"]["1"]["format"] == "spark-pipeline"

    second = run_cli("check", "-c", "ci-ml.b.yaml", cwd=project)
    assert second.code in (0, 1), second.err
    card = json.loads((project / ".ci-ml/run/challenger/model-card.json").read_text())
    assert card["model_file"]["format"] == "spark-pipeline"
    assert card["estimator"] == "pyspark.ml.PipelineModel"
    record = json.loads((project / ".ci-ml/run/metrics.json").read_text())
    metrics = record["metrics"]
    sliced = {(s["value"], s["metric"]): s for s in record["slices"]}
    session = on_cluster.session
    challenger = project / ".ci-ml/run/challenger/model.sparkml"
    for role, folder in {"challenger": challenger, "champion": champion.path}.items():
        rows = spark_predictions(session, folder, project / "eval")
        assert metrics["accuracy"][role] == pytest.approx(
            accuracy_score(rows["y"], rows["prediction"]), abs=1e-12
        )
        proba = [list(p) for p in rows["p"]]
        assert -metrics["neg_log_loss"][role] == pytest.approx(log_loss(rows["y"], proba))
        for half, part in rows.groupby("half"):  # slices from the same scoring pass
            entry = sliced[(half, "accuracy")]
            assert entry["n_rows"] == len(part)
            exact = accuracy_score(part["y"], part["prediction"])
            assert entry[role] == pytest.approx(exact, abs=1e-12)
    assert metrics["accuracy"]["challenger"] != metrics["accuracy"]["champion"]


def test_a_pipeline_model_champion_on_github_releases_is_compared_by_the_next_pr(
    tmp_path: Path, run_cli: Any, on_cluster: Any, fake_github: Any, monkeypatch: Any
) -> None:
    from ci_ml.registry import github_releases
    from tests.github_support import FAST, REPO, TOKEN

    project = spark_ml_project(tmp_path / "project")
    for name in ("a", "b"):
        config = json.loads((project / f"ci-ml.{name}.yaml").read_text())
        config["registry"] = {"backend": "github-releases"}
        (project / f"ci-ml.{name}.yaml").write_text(json.dumps(config))
    for name, value in {"GITHUB_API_URL": fake_github.url, "GITHUB_REPOSITORY": REPO}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(github_releases, "CLIENT_OPTIONS", FAST)
    assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
    assets = {a["name"] for a in fake_github.state.repo(REPO).assets.values()}
    assert "model.sparkml.tar" in assets and "model.sparkml" not in assets
    second = run_cli("check", "-c", "ci-ml.b.yaml", "--format", "json", cwd=project)
    assert second.code in (0, 1), second.err
    assert json.loads(second.out)["champion"] == 1
    (cached,) = (project / ".ci-ml/cache/github-releases").rglob("model.sparkml")
    metrics = json.loads((project / ".ci-ml/run/metrics.json").read_text())["metrics"]
    rows = spark_predictions(on_cluster.session, cached, project / "eval")
    assert metrics["accuracy"]["champion"] == pytest.approx(
        accuracy_score(rows["y"], rows["prediction"]), abs=1e-12
    )


def test_a_pipeline_model_champion_in_mlflow_is_promoted_compared_and_rolled_back(
    tmp_path: Path, run_cli: Any, on_cluster: Any, mlflow_server: Any, model_name: str
) -> None:
    project = spark_ml_project(tmp_path / "project")
    for name in ("a", "b"):
        config = json.loads((project / f"ci-ml.{name}.yaml").read_text())
        config["registry"] = {
            "backend": "mlflow",
            "tracking_uri": mlflow_server.uri,
            "model_name": model_name,
        }
        (project / f"ci-ml.{name}.yaml").write_text(json.dumps(config))
    assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
    second = run_cli("check", "--promote", "-c", "ci-ml.b.yaml", "--format", "json", cwd=project)
    assert second.code == 0, second.err  # the gate holds only accuracy >= 0.5
    assert json.loads(second.out)["champion"] == 1  # compared with version 1 from MLflow
    registry = open_registry(load_config(project / "ci-ml.a.yaml"))
    assert registry.champion().number == 2
    rolled = run_cli("rollback", "-c", "ci-ml.a.yaml", cwd=project)
    assert rolled.code == 0, rolled.err
    assert registry.champion().number == 1
    champion = registry.model_file(1)
    assert champion.format == "spark-pipeline" and (champion.path / "metadata").is_dir()
    rows = spark_predictions(on_cluster.session, champion.path, project / "eval")
    assert 0.5 < accuracy_score(rows["y"], rows["prediction"]) <= 1.0


def test_a_changed_file_in_the_champions_folder_is_refused(
    tmp_path: Path, run_cli: Any, on_cluster: Any
) -> None:
    project = spark_ml_project(tmp_path / "project")
    assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
    stored = project / ".ci-ml/registry/versions/1/model.sparkml"
    metadata = next((stored / "metadata").glob("part-*"))
    metadata.write_text(metadata.read_text() + "\n")  # one byte more, still loadable
    refused = run_cli("check", "-c", "ci-ml.b.yaml", cwd=project)
    assert refused.code == 3
    assert "model.sparkml" in refused.err and "does not match" in refused.err
