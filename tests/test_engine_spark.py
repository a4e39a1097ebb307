"""The Spark engine on a real Spark Connect server (local mode): the same numbers as
the local engine, fingerprints of lake folders and tables, and its bad inputs."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ci_ml.comparison import STUDENTIZED, TAIL_EXTRAPOLATED
from ci_ml.engines import parse_source
from ci_ml.engines.local import LocalEngine
from ci_ml.errors import DataError, EnvironmentProblem
from tests.spark_support import (
    CountingTree,
    assert_same_results,
    contenders,
    eval_rows,
    request,
    scored_rows,
    spark_engine,
    write_parts,
)

pytestmark = pytest.mark.spark
__all__ = ["spark_engine"]  # the session fixture


@pytest.mark.parametrize(
    ("task", "heavy"), [("classification", False), ("regression", False), ("regression", True)]
)
def test_spark_gives_the_local_engines_metrics_and_intervals(
    task: str, heavy: bool, spark_engine: Any, tmp_path: Path
) -> None:
    """Every value, interval, tail index and bound method to 1e-9; `heavy`: t(2) noise,
    so the moment metrics' upper bounds take Peng's tail from the merged top losses."""
    frame = eval_rows(4000, task, heavy=heavy)
    models = contenders(frame, task)
    source = parse_source(write_parts(frame, tmp_path / "eval", parts=5))
    local = LocalEngine().evaluate(source, request(task), models)
    spark = spark_engine.evaluate(source, request(task), models)
    assert spark.engine == "spark" and spark.n_rows == 4000
    assert_same_results(local, spark, tol=1e-9)
    assert spark.sketch_bounds == local.sketch_bounds
    for name, values in local.resampled.items():  # what the gate tests
        assert np.allclose(values, spark.resampled[name], rtol=0, atol=1e-9), name
    methods = {r.metric: (r.interval_method, r.upper_bound_method) for r in spark.results}
    loss = "neg_log_loss" if task == "classification" else "neg_root_mean_squared_error"
    bound = TAIL_EXTRAPOLATED if heavy else STUDENTIZED
    assert methods[loss] == ("studentized", bound)


def test_a_catalog_table_and_its_fingerprint(spark_engine: Any, tmp_path: Path) -> None:
    frame = eval_rows(1500, "classification")
    folder = write_parts(frame, tmp_path / "eval", parts=2)
    session = spark_engine.session
    session.read.parquet(str(folder)).write.mode("overwrite").saveAsTable("eval_rows")
    table = parse_source("table:eval_rows")
    models = contenders(frame, "classification")
    on_table = spark_engine.evaluate(table, request("classification", row_key=("id",)), models)
    on_files = LocalEngine().evaluate(
        parse_source(folder), request("classification", row_key=("id",)), models
    )
    assert_same_results(on_files, on_table)
    # a plain (non-Delta) table has no version history: its files are listed
    print_ = spark_engine.fingerprint(table).to_dict()
    assert print_["kind"] == "file-listing" and print_["files"] >= 1


def test_a_lake_folder_is_fingerprinted_by_its_file_listing(
    spark_engine: Any, tmp_path: Path
) -> None:
    folder = write_parts(eval_rows(300, "regression"), tmp_path / "eval", parts=3)
    (folder / "_SUCCESS").write_text("")
    first = spark_engine.fingerprint(parse_source(folder))
    assert first.kind == "file-listing" and first.files == 3
    assert first.bytes == sum(p.stat().st_size for p in folder.glob("*.parquet"))
    assert spark_engine.fingerprint(parse_source(folder)) == first
    touched = folder / "part-00001.parquet"
    os.utime(touched, (time.time() + 60, time.time() + 60))
    assert spark_engine.fingerprint(parse_source(folder)).sha256 != first.sha256


def test_a_path_that_does_not_exist_is_named(spark_engine: Any, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(EnvironmentProblem, match="no-such-folder: Spark cannot find it") as caught:
        spark_engine.evaluate(parse_source(missing), request("regression"), [])
    assert caught.value.exit_code == 3
    with pytest.raises(EnvironmentProblem, match="table no_such_table: Spark cannot find it"):
        spark_engine.read(parse_source("table:no_such_table"))


def test_a_column_whose_type_differs_across_files(spark_engine: Any, tmp_path: Path) -> None:
    frame = eval_rows(100, "classification")
    folder = write_parts(frame, tmp_path / "eval", 2)
    frame.astype({"b": str}).to_parquet(folder / "part-00001.parquet", index=False)
    clash = "column 'b' is DOUBLE in some files and STRING in others"
    with pytest.raises(DataError, match=clash) as caught:
        spark_engine.evaluate(parse_source(folder), request("classification"), [])
    assert caught.value.exit_code == 1


def test_an_unreachable_cluster_is_named_without_its_token() -> None:
    pytest.importorskip("pyspark")
    from ci_ml.engines.settings import SparkSettings
    from ci_ml.engines.spark import SparkEngine

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = f"sc://127.0.0.1:{port}/;token=s3cr3t"
    with pytest.raises(EnvironmentProblem) as caught:
        SparkEngine(SparkSettings(remote))
    assert caught.value.exit_code == 3
    assert f"sc://127.0.0.1:{port}" in caught.value.message
    assert "s3cr3t" not in caught.value.message


def test_a_model_too_large_to_ship_is_refused_with_its_size(spark_engine: Any) -> None:
    from ci_ml.engines.spark import check_shippable
    from ci_ml.engines.summaries import plan_summaries

    frame = eval_rows(200, "classification")
    models = contenders(frame, "classification")
    plan = plan_summaries(request("classification"), models, frame["y"].unique(), 0.0, len(frame))
    size = check_shippable(plan, models)
    with pytest.raises(EnvironmentProblem, match=r"MiB pickled; Spark Connect ships at most"):
        check_shippable(plan, models, limit=size - 1)


TEAM_MODULE = '''
from sklearn.tree import DecisionTreeClassifier


class TeamTree(DecisionTreeClassifier):
    """A team's own estimator, in a module beside its ci-ml.yaml."""
'''


def test_a_teams_own_estimator_module_is_shipped_to_the_executors(
    spark_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the module is importable on the runner only (as workspace puts the project folder
    # on sys.path); the executors' PYTHONPATH does not hold tmp_path
    project = tmp_path / "project"
    (project / "team_models_x7").mkdir(parents=True)
    (project / "team_models_x7" / "__init__.py").write_text("")
    (project / "team_models_x7" / "trees.py").write_text(TEAM_MODULE)
    monkeypatch.syspath_prepend(str(project))
    from team_models_x7.trees import TeamTree  # type: ignore[import-not-found]

    frame = eval_rows(1000, "classification")
    x = frame[["a", "b", "c"]]
    champion = contenders(frame, "classification")[1]
    team = TeamTree(max_depth=2).fit(x, frame["y"])
    source = parse_source(write_parts(frame, tmp_path / "eval", parts=2))
    wanted = request("classification", resamples=20, row_key=("id",))
    local = LocalEngine().evaluate(source, wanted, [team, champion])
    spark = spark_engine.evaluate(source, wanted, [team, champion])
    assert_same_results(local, spark)
    assert spark.results[0].challenger != spark.results[0].champion


def test_a_local_delta_folder_is_fingerprinted_by_its_log_version(
    spark_engine: Any, tmp_path: Path
) -> None:
    from tests.test_engine_sources import commit

    table = tmp_path / "events"
    commit(table, 0, ["part-0.parquet"])
    commit(table, 1, ["part-1.parquet"])
    first = spark_engine.fingerprint(parse_source(table))
    assert first.to_dict() | {"sha256": None} == {
        "kind": "table-version",
        "sha256": None,
        "files": 0,
        "bytes": 0,
        "version": 1,
    }
    commit(table, 2, ["part-2.parquet"])
    assert spark_engine.fingerprint(parse_source(table)).version == 2


def sliced_rows(n_rows: int) -> pd.DataFrame:
    frame = eval_rows(n_rows, "classification")
    regions = np.random.default_rng(4).choice(["north", "south", "east"], n_rows)
    frame["region"] = np.where(frame["a"] > 1.5, None, regions)  # missing: its own slice
    frame["k"] = np.sign(frame["b"]).astype(np.int64)
    return frame


def test_slices_come_from_the_scoring_pass_of_the_metrics(
    spark_engine: Any, tmp_path: Path
) -> None:
    from ci_ml.engines.slices import slice_records

    frame = sliced_rows(3000)
    log = tmp_path / "scored.log"
    x, y = frame[["a", "b", "c"]], frame["y"]
    challenger = CountingTree(str(log), max_depth=3).fit(x, y)
    models = [challenger, contenders(frame, "classification")[0]]
    wanted = replace(
        request("classification", resamples=50, row_key=("id",)), slice_by=("region", "k")
    )
    source = parse_source(write_parts(frame, tmp_path / "eval", parts=3))
    log.write_text("")
    spark = spark_engine.evaluate(source, wanted, models)
    # every row scored once by each predict method, on the executors: no second pass
    assert scored_rows(log) == {"predict": 3000, "predict_proba": 3000}
    local = LocalEngine().evaluate(source, wanted, models)
    assert_same_results(local, spark)
    assert spark.slices.keys() == local.slices.keys() and len(spark.slices) == 6
    for key, sums in local.slices.items():
        np.testing.assert_allclose(spark.slices[key], sums, rtol=0, atol=1e-9, err_msg=str(key))
    # a slice's values are the evaluation's point values on that slice's rows alone
    assert spark.plan is not None
    names = ["accuracy", "f1", "neg_log_loss", "balanced_accuracy"]
    records = slice_records(spark.plan, spark.slices, ["region"], names, 100)
    for value in ("north", "south", "east", None):
        rows = frame[frame["region"].isna() if value is None else frame["region"] == value]
        alone = LocalEngine().evaluate_frame(rows, request("classification", 10), models)
        found = {r["metric"]: r for r in records if r["value"] == value}
        for result in alone.results:
            if result.metric in names:
                entry = found[result.metric]
                assert entry["n_rows"] == len(rows)
                assert entry["challenger"] == pytest.approx(result.challenger, abs=1e-9)
                assert entry["champion"] == pytest.approx(result.champion, abs=1e-9)
