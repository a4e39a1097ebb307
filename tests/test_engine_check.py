"""`ci-ml check` through the engines: `bootstrap: poisson` on the runner, `engine: spark`.

The spark tests run the whole command against the session's Spark Connect
server (local mode) and compare it with the local engine on the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from sklearn.metrics import roc_auc_score

from ci_ml.comparison import STUDENTIZED, TAIL_EXTRAPOLATED, mcnemar_exact
from ci_ml.config import load_config, shipped_schema
from ci_ml.engines import EvaluationRequest, parse_source
from ci_ml.engines.local import LocalEngine
from ci_ml.modelfile import load_model, model_file_from_card
from ci_ml.registry import open_registry
from ci_ml.stages.evaluate_engine import _exact_change
from ci_ml.training import CARD_NAME
from tests.spark_support import FEATURES, eval_rows, on_cluster, spark_engine, write_parts

__all__ = ["on_cluster", "spark_engine"]  # the fixtures

METRICS = ["accuracy", "roc_auc", "neg_log_loss", "f1"]


def config_text(data: dict[str, str], engine: str = "local", **extra: Any) -> str:
    config = {
        "version": 1,
        "name": "lake",
        "task": "classification",
        "data": {**data, "target": "y", "drop": ["id", "region"]},
        "model": {
            "estimator": extra.pop("estimator", "sklearn.tree.DecisionTreeClassifier"),
            "params": {"max_depth": 4, "random_state": 0},
        },
        "metrics": METRICS,
        "evaluation": {
            "bootstrap": "poisson",
            "resamples": 200,
            "row_key": ["id"],
            "slice_by": ["region"],
            "min_slice_rows": 400,
        },
        "gate": [
            {"metric": "accuracy", "min": 0.6},
            {"metric": "roc_auc", "max_regression": 0.05, "confidence": 0.9},
            # always met (sklearn clips a row's log loss at 36): here for its bound_method
            {"metric": "neg_log_loss", "max": 40, "confidence": 0.9},
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
    regions = np.random.default_rng(seed).choice(["north", "south", "east", "west"], n_rows)
    frame["region"] = np.where(frame["a"] > 1.8, None, regions)  # a few missing: a slice
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
    schema = Draft202012Validator(shipped_schema("evaluation.schema.json"))
    assert list(schema.iter_errors(record)) == []
    assert not (project / ".ci-ml/run/predictions.parquet").exists()
    # the very numbers the engine library gives on the eval file, with both models
    models = [_challenger(project), _champion(project)]
    expected = LocalEngine().evaluate(parse_source(project / "eval.parquet"), _request(), models)
    for result in expected.results:
        found = _exact_change(result, expected)  # accuracy: the hull with the exact interval
        entry = record["metrics"][found.metric]
        assert entry["challenger"] == pytest.approx(found.challenger, abs=1e-12)
        assert entry["interval"]["low"] == pytest.approx(found.delta_interval.low, abs=1e-12)
        assert entry["method"] == found.method
        assert entry["upper_bound_method"] == found.upper_bound_method
        assert entry["tail_index"] == found.tail_index
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
    # a moment metric's bound: studentized, with the tail switch, as the percentile one
    loss = next(r for r in report_json(project)["rules"] if r["metric"] == "neg_log_loss")
    assert loss["bound_method"] == record["metrics"]["neg_log_loss"]["upper_bound_method"]
    assert loss["bound_method"] in (STUDENTIZED, TAIL_EXTRAPOLATED)


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


def test_poisson_slices_are_the_exact_slices(tmp_path: Path, run_cli) -> None:
    """Slices from grouped sums equal the ones computed from row predictions."""
    project = local_project(tmp_path / "local")
    assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
    assert run_cli("check", "-c", "ci-ml.b.yaml", cwd=project).code in (0, 1)
    grouped = metrics_json(project)["slices"]
    config = json.loads((project / "ci-ml.b.yaml").read_text())
    config["evaluation"]["bootstrap"] = "percentile"
    (project / "ci-ml.b.yaml").write_text(json.dumps(config))
    assert run_cli("evaluate", "-c", "ci-ml.b.yaml", cwd=project).code == 0
    exact = metrics_json(project)["slices"]
    key = [(s["metric"], s["value"]) for s in exact]
    assert sorted(key, key=str) == sorted(((s["metric"], s["value"]) for s in grouped), key=str)
    assert {s["value"] for s in exact} == {"north", "south", "east", "west", None}
    by_key = {(s["metric"], s["value"]): s for s in grouped}
    for entry in exact:
        found = by_key[(entry["metric"], entry["value"])]
        assert (found["n_rows"], found["judged"]) == (entry["n_rows"], entry["judged"])
        tol = 0.01 if entry["metric"] == "roc_auc" else 1e-9  # scores binned in 1024 bins
        for side in ("challenger", "champion", "delta"):
            assert found[side] == pytest.approx(entry[side], abs=tol), (entry, side)
    assert not next(s for s in grouped if s["value"] is None)["judged"]  # < min_slice_rows


def lake_project(root: Path, estimator: str = "sklearn.tree.DecisionTreeClassifier") -> Path:
    """The local project's rows as lake folders of Parquet parts, with `engine: spark`."""
    root.mkdir()
    for name, seed in {"train_a": 1, "train_b": 2, "eval": 3}.items():
        write_parts(rows(seed), root / name, parts=3)
    engine = {"name": "spark", "spark": {"remote": "local[2]", "train_sample_rows": 5000}}
    for name in ("a", "b"):
        data = {"train": f"train_{name}", "eval": "eval"}
        chosen = estimator if name == "b" else "sklearn.tree.DecisionTreeClassifier"
        (root / f"ci-ml.{name}.yaml").write_text(config_text(data, engine, estimator=chosen))
    return root


@pytest.mark.spark
def test_spark_check_equals_the_local_poisson_check_on_the_same_rows(
    tmp_path: Path, run_cli, on_cluster: Any
) -> None:
    local = local_project(tmp_path / "local")
    # the fresh challenger fails on partition 0's first attempt: Spark's retry must not
    # count that partition twice, or change anything
    lake = lake_project(tmp_path / "lake", "tests.spark_support.FlakyTree")
    for project in (local, lake):
        assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
        assert run_cli("check", "-c", "ci-ml.b.yaml", cwd=project).code in (0, 1)
    on_spark, on_runner = metrics_json(lake), metrics_json(local)
    assert on_spark["comparison"]["engine"] == "spark"
    assert on_spark["eval"]["fingerprint"]["kind"] == "file-listing"
    assert on_spark["eval"]["rows"] == on_runner["eval"]["rows"] == 3000
    assert on_spark["mcnemar"] == on_runner["mcnemar"]
    assert len(on_spark["slices"]) == len(on_runner["slices"]) == 5 * len(METRICS)
    for found, expected in zip(on_spark["slices"], on_runner["slices"], strict=True):
        _same(found, expected, f"slice {expected['metric']} {expected['value']}")
    for name in METRICS:
        _same(on_spark["metrics"][name], on_runner["metrics"][name], name)
    spark_report, local_report = report_json(lake), report_json(local)
    assert spark_report["verdict"] == local_report["verdict"]
    assert [r["status"] for r in spark_report["rules"]] == [
        r["status"] for r in local_report["rules"]
    ]
    for found, expected in zip(spark_report["rules"], local_report["rules"], strict=True):
        assert found.get("bound_method") == expected.get("bound_method")
        _same({"bound": found.get("bound")}, {"bound": expected.get("bound")}, "rule bound")
    assert spark_report["rules"][-1].get("bound_method") is not None  # the log-loss rule
    card = json.loads((lake / ".ci-ml/run/challenger" / CARD_NAME).read_text())
    assert card["data"]["train"]["fingerprint"]["kind"] == "file-listing"
    assert card["data"]["train"]["sample"] | {"method": None} == {
        "rows": 3000,
        "of_rows": 3000,
        "seed": 0,
        "method": None,
    }
    validation = json.loads((lake / ".ci-ml/run/validation.json").read_text())
    assert validation["files"]["eval"]["rows"] == 3000


def _same(left: dict[str, Any], right: dict[str, Any], where: str) -> None:
    for key, value in left.items():
        other = right[key]
        if isinstance(value, dict):
            _same(value, other, f"{where}.{key}")
        elif isinstance(value, float):
            assert value == pytest.approx(other, abs=1e-9), f"{where}.{key}"
        else:
            assert value == other, f"{where}.{key}"


@pytest.mark.spark
def test_a_sample_smaller_than_train_is_seeded_and_recorded(
    tmp_path: Path, run_cli, on_cluster: Any
) -> None:
    lake = lake_project(tmp_path / "lake")
    text = (lake / "ci-ml.a.yaml").read_text()
    text = text.replace('"train_sample_rows": 5000', '"train_sample_rows": 1000')
    (lake / "ci-ml.a.yaml").write_text(text)
    assert run_cli("train", "-c", "ci-ml.a.yaml", cwd=lake).code == 0
    card = json.loads((lake / ".ci-ml/run/challenger" / CARD_NAME).read_text())
    sample = card["data"]["train"]["sample"]
    assert (sample["rows"], sample["of_rows"], sample["seed"]) == (1000, 3000, 0)
    assert card["data"]["train"]["rows_used"] == 1000
    # the same rows however the folder is split: rewrite it in 7 parts
    for part in (lake / "train_a").iterdir():
        part.unlink()
    write_parts(rows(1), lake / "train_a", parts=7)
    first = _challenger(lake)
    assert run_cli("train", "-c", "ci-ml.a.yaml", cwd=lake).code == 0
    again = json.loads((lake / ".ci-ml/run/challenger" / CARD_NAME).read_text())
    assert again["data"]["train"]["fingerprint"] != card["data"]["train"]["fingerprint"]
    x = rows(9)[list(FEATURES)]  # the same 1000 rows, the same tree
    assert (first.predict_proba(x) == _challenger(lake).predict_proba(x)).all()


@pytest.mark.spark
def test_a_job_that_keeps_failing_writes_no_metrics(
    tmp_path: Path, run_cli, on_cluster: Any
) -> None:
    lake = lake_project(tmp_path / "lake", "tests.spark_support.BrokenTree")
    result = run_cli("check", "-c", "ci-ml.b.yaml", cwd=lake)
    assert result.code == 3
    assert "Spark job that scores the eval rows failed" in result.err
    assert not (lake / ".ci-ml/run/metrics.json").exists()
    assert not (lake / ".ci-ml/run/decision.json").exists()


RULES = {
    "schema": {
        "columns": {
            "a": {"type": "float", "min": -3.0, "max": 3.0},
            "id": {"type": "int", "unique": True},
            "price": {"type": "float", "min": 0},
        }
    }
}


@pytest.mark.spark
def test_rules_and_drift_on_the_cluster_give_the_local_verdict(
    tmp_path: Path, run_cli, on_cluster: Any
) -> None:
    local = local_project(tmp_path / "local")
    lake = lake_project(tmp_path / "lake")
    for project in (local, lake):
        for name in ("a", "b"):
            config = json.loads((project / f"ci-ml.{name}.yaml").read_text())
            config["drift"] = {"enabled": True}
            config["validation"] = RULES if name == "b" else {}
            (project / f"ci-ml.{name}.yaml").write_text(json.dumps(config))
        assert run_cli("check", "--promote", "-c", "ci-ml.a.yaml", cwd=project).code == 0
        assert run_cli("validate", "-c", "ci-ml.b.yaml", cwd=project).code == 1
    on_spark, on_runner = (_validation(p) for p in (lake, local))
    # the rule on a column the data lacks names it; the others are judged on every row
    missing = [f for f in on_spark["failures"] if f["rule"] == "required"]
    assert [(f["column"], f["message"].split(":")[0]) for f in missing] == [
        ("price", "train_b"),
        ("price", "eval"),
    ]
    assert _failures(on_spark) == _failures(on_runner)
    assert on_spark["drift"]["champion"] == on_runner["drift"]["champion"] == 1
    for key in ("dataset_drift", "drifted_columns", "schema_changed"):
        assert on_spark["drift"][key] == on_runner["drift"][key], key
    for found, expected in zip(
        on_spark["drift"]["columns"], on_runner["drift"]["columns"], strict=True
    ):
        assert (found["column"], found["drifted"]) == (expected["column"], expected["drifted"])
        if expected["statistic"] is None:
            assert found["statistic"] is None
        else:
            assert found["statistic"] == pytest.approx(expected["statistic"], rel=1e-9)
    assert on_spark["drift"]["prediction"]["drifted"] == on_runner["drift"]["prediction"]["drifted"]
    # `ci-ml drift` asks the cluster the same question
    for project in (local, lake):
        assert run_cli("drift", "-c", "ci-ml.b.yaml", cwd=project).code == 1  # columns added
    asked = [json.loads((p / ".ci-ml/run/drift.json").read_text()) for p in (lake, local)]
    assert asked[0]["drifted_columns"] == asked[1]["drifted_columns"] != []
    # the champion's profile was taken on the cluster, over every training row
    profile = json.loads((lake / ".ci-ml/run/challenger/profile.json").read_text())
    assert profile["rows"] == 3000 and profile["columns"]["a"]["sample_size"] == 3000


def _validation(project: Path) -> dict[str, Any]:
    return json.loads((project / ".ci-ml/run/validation.json").read_text())


def _failures(record: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(f["rule"], f["column"], f.get("failing_rows")) for f in record["failures"]]


def inconsistent_project(root: Path, engine: Any, eval_name: str = "eval.parquet") -> Path:
    """Train and eval files a model could be fitted on but not scored on."""
    root.mkdir()
    train, held = rows(1), rows(3)
    train.loc[[7, 19], "a"] = [np.inf, -np.inf]  # a number column with infinities
    held["b"] = held["b"].map(repr).astype(object)  # numbers in training, text here
    held.loc[[4, 30, 2999], "b"] = ["n/a", "inf", ""]
    held.loc[12, "c"] = -np.inf
    held.loc[[5, 40, 41, 100], "y"] = [2, 3, 2, 7]  # classes training never saw
    train.to_parquet(root / "train.parquet", index=False)
    held.to_parquet(root / "eval.parquet", index=False)
    data = {"train": "train.parquet", "eval": eval_name}
    (root / "ci-ml.yaml").write_text(config_text(data, engine))
    return root


@pytest.mark.spark
def test_consistency_rows_in_a_folder_name_their_file_and_a_cap_says_so(
    tmp_path: Path, run_cli, on_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ci_ml.engines import spark_consistency

    engine = {"name": "spark", "spark": {"remote": "local[2]"}}
    lake = inconsistent_project(tmp_path / "lake", engine, eval_name="eval")
    held = pd.read_parquet(lake / "eval.parquet")
    (lake / "eval").mkdir()
    for index, part in enumerate(np.array_split(np.arange(len(held)), 2)):
        held.iloc[part].to_parquet(lake / "eval" / f"part-{index}.parquet", index=False)
    monkeypatch.setattr(spark_consistency, "CLASS_CAP", 2)
    assert run_cli("validate", cwd=lake).code == 1
    failures = {f["column"]: f for f in _validation(lake)["failures"]}
    assert failures["b"]["examples"][:3] == [
        {"row": 4, "value": "n/a", "file": "part-0.parquet"},
        {"row": 30, "value": "inf", "file": "part-0.parquet"},
        {"row": 1499, "value": "", "file": "part-1.parquet"},
    ]
    classes = failures["y"]["message"]
    assert "4 row(s) of class(es) '2', '3' (more than 2 such classes;" in classes
    assert "row 5 of part-0.parquet: '2'" in classes


def regression_project(root: Path, engine: Any) -> Path:
    """A regression target that is infinite in training and text in the eval rows."""
    root.mkdir()
    train, held = rows(1), rows(3)
    train["y"] = train["a"] * 3.0
    train.loc[3, "y"] = np.inf
    held["y"] = (held["a"] * 3.0).map(repr).astype(object)
    held.loc[[8, 9], "y"] = ["?", "-inf"]
    train.to_parquet(root / "train.parquet", index=False)
    held.to_parquet(root / "eval.parquet", index=False)
    config = json.loads(config_text({"train": "train.parquet", "eval": "eval.parquet"}, engine))
    config |= {"task": "regression", "metrics": ["r2"], "gate": [{"metric": "r2", "min": 0}]}
    config["model"]["estimator"] = "sklearn.tree.DecisionTreeRegressor"
    (root / "ci-ml.yaml").write_text(json.dumps(config))
    return root


CONSISTENCY = {
    "classification": (
        inconsistent_project,
        [("type", "a", 2), ("type", "b", 3), ("type", "c", 1), ("classes", "y", 4)],
        ["row 4: 'n/a', row 30: 'inf', row 2999: ''", "class(es) '2', '3', '7'"],
    ),
    "regression": (
        regression_project,
        [("type", "y", 1), ("type", "y", 2)],
        ["(the regression target in training)", "row 8: '?', row 9: '-inf'"],
    ),
}


@pytest.mark.spark
@pytest.mark.parametrize("task", list(CONSISTENCY))
def test_train_eval_consistency_on_the_cluster_gives_the_local_failures(
    task: str, tmp_path: Path, run_cli, on_cluster: Any
) -> None:
    build, expected, phrases = CONSISTENCY[task]
    local = build(tmp_path / "local", "local")
    lake = build(tmp_path / "lake", {"name": "spark", "spark": {"remote": "local[2]"}})
    for project in (local, lake):
        assert run_cli("validate", cwd=project).code == 1
    on_spark, on_runner = (_validation(p)["failures"] for p in (lake, local))
    assert [(f["rule"], f["column"], f["failing_rows"]) for f in on_runner] == expected
    assert on_spark == on_runner  # the same messages, counts and example rows
    messages = " ".join(f["message"] for f in on_spark)
    assert all(phrase in messages for phrase in phrases), messages
