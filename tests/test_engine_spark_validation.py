"""Schema rules, the training profile and drift on the cluster equal the local engine's.

Every test runs on the session's Spark Connect server (local mode) and compares
with the local engine on the same Parquet file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ci_ml.engines import parse_source
from ci_ml.errors import DataError, EnvironmentProblem
from ci_ml.validation import build_profile, detect_drift, load_schema, validate_table
from ci_ml.validation.drift import DriftOptions, drift_columns, judge_drift
from tests.spark_support import spark_engine

__all__ = ["spark_engine"]  # the session fixture

pytestmark = pytest.mark.spark

SCHEMA = {
    "columns": {
        "id": {"type": "int", "unique": True},
        "x": {"type": "float", "min": -2.0, "max": 2.0, "finite": True},
        "n": {"type": "int", "nullable": False, "max_null_fraction": 0.01},
        "s": {"type": "string", "allowed": ["a", "b", "c"], "regex": "^[a-z]$"},
        "code": {"type": "string", "regex": "^[A-Z]{2}[0-9]$"},
        "flag": {"type": "bool", "allowed": [True]},
        "gone": {"type": "float"},
    },
    "table": {"min_rows": 5000, "duplicate_rows": "forbid", "extra_columns": "forbid"},
}


def messy(n_rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Rows breaking every rule kind, a few times each."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": np.arange(n_rows, dtype=np.int64),
            "x": rng.normal(size=n_rows),
            "n": pd.array(rng.integers(0, 9, n_rows), dtype="Int64"),
            "s": rng.choice(["a", "b", "c"], n_rows),
            "code": rng.choice(["AB1", "CD2", "ab3"], n_rows, p=[0.45, 0.45, 0.1]),
            "flag": rng.random(n_rows) < 0.9,
            "extra": rng.random(n_rows),
        }
    )
    frame.loc[[5, 70, 900], "x"] = [np.inf, np.nan, 9.5]
    frame.loc[[3, 4, 1000], "n"] = pd.NA
    frame.loc[[11, 2000], "s"] = ["z", "Q"]
    frame.loc[[17, 18], "id"] = 16
    frame.iloc[2999] = frame.iloc[100]  # a duplicated row
    return frame


def test_rules_on_the_cluster_give_the_local_records(spark_engine: Any, tmp_path: Path) -> None:
    from ci_ml.engines.spark_rules import check_rules

    path = tmp_path / "data.parquet"
    messy().to_parquet(path, index=False)
    local = validate_table(path, SCHEMA).to_dict()
    found = check_rules(spark_engine, parse_source(path), load_schema(SCHEMA)).to_dict()
    assert not local["passed"] and local["errors"] >= 9
    assert found | {"source": None} == local | {"source": None}


def test_rules_on_a_folder_name_the_file_of_each_example(spark_engine: Any, tmp_path: Path) -> None:
    from ci_ml.engines.spark_rules import check_rules

    frame = messy()
    folder = tmp_path / "lake"
    folder.mkdir()
    for index, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(folder / f"part-{index}.parquet", index=False)
    whole = tmp_path / "data.parquet"
    frame.to_parquet(whole, index=False)
    local = validate_table(whole, SCHEMA)
    found = check_rules(spark_engine, parse_source(folder), load_schema(SCHEMA))
    assert _verdicts(found) == _verdicts(local)
    rows = {(f.column, f.rule): f.examples for f in found.failures}
    # row 2000 is row 0 of the third part; the ids 16 at rows 16-18 of the first
    assert rows[("s", "allowed")] == [(11, "z", "part-0.parquet"), (0, "Q", "part-2.parquet")]
    assert rows[("id", "unique")][:3] == [(r, 16, "part-0.parquet") for r in (16, 17, 18)]
    assert rows[(None, "duplicate_rows")] == [
        (999, "duplicate of an earlier row", "part-2.parquet")
    ]


def test_a_retried_task_counts_once_and_a_failing_one_is_named(
    spark_engine: Any, tmp_path: Path
) -> None:
    from ci_ml.engines.spark_rules import check_rules
    from ci_ml.validation.schema import DataSchema
    from tests.spark_support import BrokenColumns, FlakyColumns

    path = tmp_path / "data.parquet"
    messy().to_parquet(path, index=False)
    schema = load_schema(SCHEMA)
    flaky = DataSchema(FlakyColumns(schema.columns), schema.table, schema.source)
    found = check_rules(spark_engine, parse_source(path), flaky).to_dict()
    assert found | {"source": None} == validate_table(path, SCHEMA).to_dict() | {"source": None}
    broken = DataSchema(BrokenColumns(schema.columns), schema.table, schema.source)
    with pytest.raises(EnvironmentProblem, match="Spark job that checks the data schema"):
        check_rules(spark_engine, parse_source(path), broken)


def _verdicts(result: Any) -> list[tuple[Any, ...]]:
    return sorted(
        (f.column or "", f.rule, f.severity, f.expected, f.found, f.failing_rows)
        for f in result.failures
    )


def test_a_rule_on_a_missing_column_names_it(spark_engine: Any, tmp_path: Path) -> None:
    from ci_ml.engines.spark_rules import check_rules

    path = tmp_path / "data.parquet"
    messy().to_parquet(path, index=False)
    schema = load_schema({"columns": {"price": {"type": "float", "min": 0}}})
    result = check_rules(spark_engine, parse_source(path), schema)
    assert [(f.column, f.rule, f.found) for f in result.failures] == [
        ("price", "required", "column missing")
    ]
    assert not result.passed


def test_a_column_typed_differently_across_files_is_named(
    spark_engine: Any, tmp_path: Path
) -> None:
    from ci_ml.engines.spark_rules import check_rules

    folder = tmp_path / "lake"
    folder.mkdir()
    pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0]}).to_parquet(folder / "a.parquet")
    pd.DataFrame({"id": ["3", "4"], "x": [1.0, 2.0]}).to_parquet(folder / "b.parquet")
    with pytest.raises(DataError, match="column 'id' is"):
        check_rules(spark_engine, parse_source(folder), load_schema(SCHEMA))


def features(n_rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(shift, 1.0, n_rows),
            "b": rng.exponential(1.0 + shift, n_rows),
            "k": pd.array(rng.integers(0, 50, n_rows), dtype="Int64"),
            "city": rng.choice(["paris", "lyon", "nice", "lille"], n_rows, p=_shares(shift)),
            "flag": rng.random(n_rows) < 0.3 + shift / 4,
            "y": (rng.random(n_rows) < 0.4).astype(np.int64),
        }
    )
    frame.loc[frame.index[::37], "a"] = np.nan
    frame.loc[frame.index[::53], "city"] = None
    return frame


def _shares(shift: float) -> list[float]:
    return [0.4 - shift / 4, 0.3, 0.2, 0.1 + shift / 4]


def test_the_training_profile_on_the_cluster_is_the_local_one(
    spark_engine: Any, tmp_path: Path
) -> None:
    from ci_ml.engines.spark_profile import cluster_profile

    path = tmp_path / "train.parquet"
    features(4000, 1).to_parquet(path, index=False)
    names = ["a", "b", "k", "city", "flag"]
    local = build_profile(path, names, "y", seed=3)
    found = cluster_profile(spark_engine, parse_source(path), names, "y", 3)
    assert [c["kind"] for c in found["columns"].values()] == [
        "numeric",
        "numeric",
        "numeric",
        "categorical",
        "categorical",
        "categorical",
    ]
    _close(found | {"source": None}, local | {"source": None}, "profile")


def _close(found: Any, expected: Any, where: str, rel: float = 1e-9) -> None:
    if isinstance(expected, dict):
        assert found.keys() == expected.keys(), where
        for key in expected:
            _close(found[key], expected[key], f"{where}.{key}", rel)
    elif isinstance(expected, list):
        assert len(found) == len(expected), where
        for index, (f, e) in enumerate(zip(found, expected, strict=True)):
            _close(f, e, f"{where}[{index}]", rel)
    elif isinstance(expected, float) and not isinstance(found, bool):
        assert found == pytest.approx(expected, rel=rel, abs=1e-12, nan_ok=True), where
    else:
        assert found == expected, where


def test_drift_on_the_cluster_flags_what_the_local_engine_flags(
    spark_engine: Any, tmp_path: Path
) -> None:
    from ci_ml.engines.spark_profile import cluster_current

    train, current = tmp_path / "train.parquet", tmp_path / "new.parquet"
    features(5000, 1).to_parquet(train, index=False)
    shifted = features(5000, 2, shift=0.4)
    shifted["added"] = 1.0
    shifted.drop(columns=["k"]).to_parquet(current, index=False)
    profile = build_profile(train, ["a", "b", "k", "city", "flag"], "y", seed=0)
    options = DriftOptions.from_config({"columns": {"b": {"method": "psi"}}})
    local = detect_drift(profile, current, options).to_dict()
    source = parse_source(current)
    wanted, compared = drift_columns(profile, spark_engine.columns(source), options)
    data = cluster_current(spark_engine, source, profile, compared, options.seed)
    found = judge_drift(profile, data, wanted, options).to_dict()
    assert local["dataset_drift"] and local["schema_changed"]
    assert {"a", "city", "k", "added"} <= set(local["drifted_columns"])
    _close(found, local, "drift")


def test_same_data_does_not_drift_on_the_cluster(spark_engine: Any, tmp_path: Path) -> None:
    from ci_ml.engines.spark_profile import cluster_current

    train, current = tmp_path / "train.parquet", tmp_path / "new.parquet"
    features(5000, 1).to_parquet(train, index=False)
    features(5000, 7).to_parquet(current, index=False)
    profile = build_profile(train, ["a", "b", "k", "city", "flag"], "y", seed=0)
    options = DriftOptions()
    source = parse_source(current)
    wanted, compared = drift_columns(profile, spark_engine.columns(source), options)
    data = cluster_current(spark_engine, source, profile, compared, options.seed)
    found = judge_drift(profile, data, wanted, options).to_dict()
    assert not found["dataset_drift"] and found["drifted_columns"] == []
    _close(found, detect_drift(profile, current, options).to_dict(), "drift")


def test_beyond_the_sample_size_counts_are_exact_and_quantiles_within_noise(
    spark_engine: Any, tmp_path: Path
) -> None:
    """Over 50,000 rows both engines sample 50,000, not the same ones (see README)."""
    from ci_ml.engines.spark_profile import cluster_current, cluster_profile

    train, current = tmp_path / "train.parquet", tmp_path / "new.parquet"
    features(120_000, 1).to_parquet(train, index=False)
    features(120_000, 2, shift=0.3).to_parquet(current, index=False)
    names = ["a", "b", "city"]
    local = build_profile(train, names, "y", seed=0)
    found = cluster_profile(spark_engine, parse_source(train), names, "y", 0)
    for name in ("a", "b"):
        mine, theirs = found["columns"][name], local["columns"][name]
        for key in ("count", "nulls", "values", "min", "max", "mean", "std"):
            assert mine[key] == pytest.approx(theirs[key], rel=1e-9), (name, key)
        gaps = np.abs(np.subtract(mine["quantiles"], theirs["quantiles"]))[1:-1]
        assert gaps.max() <= 0.05 * theirs["std"], name  # ~1/sqrt(50,000) of the spread
    assert found["columns"]["city"] == local["columns"]["city"]
    options = DriftOptions()
    source = parse_source(current)
    wanted, compared = drift_columns(local, spark_engine.columns(source), options)
    data = cluster_current(spark_engine, source, local, compared, options.seed)
    flags = judge_drift(local, data, wanted, options).to_dict()
    expected = detect_drift(local, current, options).to_dict()
    assert flags["drifted_columns"] == expected["drifted_columns"] != []
    compared = [c for c in expected["columns"] if c["status"] == "compared"]
    assert len(compared) == 3  # a, b and city (the target apart); k and flag added
    for mine, theirs in zip(flags["columns"], expected["columns"], strict=True):
        if theirs["status"] != "compared":
            assert mine == theirs
            continue
        assert mine["p_value"] == pytest.approx(theirs["p_value"], rel=1e-9)  # exact grids
        assert mine["statistic"] == pytest.approx(theirs["statistic"], rel=0.2, abs=0.01)
