"""The stages' data under `engine: spark`: what stays on the cluster, what reaches the runner.

One engine per process (a Spark Connect session costs seconds), closed at exit.
Validation checks presence, target, classes, the schema rules, the train/eval
consistency checks and drift on the cluster (see cluster_checks). Training reads
a seeded sample of at most `engine.spark.train_sample_rows` rows, and profiles
the whole training source on the cluster; evaluation never reads rows here.
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any, cast

from ci_ml.engines import DataSource, Engine, open_engine, parse_source
from ci_ml.errors import ConfigError, DataError

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.datasets import Datasets
    from ci_ml.engines.spark import SparkEngine
    from ci_ml.records import ValidationRecord
    from ci_ml.stages.validate import Champion

_OPEN: list[tuple[Any, Engine]] = []
SAMPLE_METHOD = "the rows with the smallest xxhash64 of (seed, their values)"


def engine_for(config: Config) -> Engine:
    """The open engine of this config, opened on first use."""
    for settings, engine in _OPEN:
        if settings == config.engine:
            return engine
    engine = open_engine(config.engine)
    if not _OPEN:
        atexit.register(close_engines)
    _OPEN.append((config.engine, engine))
    return engine


def close_engines() -> None:
    while _OPEN:
        _OPEN.pop()[1].close()


def spark_engine(config: Config) -> SparkEngine:
    """The Spark engine: what only it can do (sample, count on the cluster)."""
    return cast("SparkEngine", engine_for(config))


def source_of(config: Config, role: str) -> DataSource | None:
    """data.train / data.eval as the engine reads it: a path, a URI or `table:name`."""
    written = config.data.written.get(role)
    return parse_source(written, config.root) if written else None


def cluster_datasets(config: Config) -> Datasets:
    """Train: a seeded sample that fits the runner; eval: only its columns (rows stay)."""
    import pandas as pd

    from ci_ml.data import EvalSplit
    from ci_ml.datasets import Datasets, feature_columns

    engine, target = spark_engine(config), config.data.target
    train = _train_source(config)
    features = feature_columns(config, engine.columns(train), train.label)
    held = held_out_source(config)
    eval_columns = engine.columns(held)
    _require(eval_columns, [*features, target], held)
    train_file = _sampled(config, engine, train, [*features, target])
    sample = train_file.pop("frame")
    fingerprint = engine.fingerprint(held)
    split = EvalSplit("file", held.location, fingerprint.sha256, engine.count(held))
    data = Datasets(sample, pd.DataFrame(columns=eval_columns), target, features, train_file, split)
    data.eval_fingerprint = fingerprint.to_dict()
    return data


def train_profile(config: Config, features: list[str]) -> dict[str, Any]:
    """The training profile of all of data.train, computed on the cluster."""
    from ci_ml.engines.spark_profile import cluster_profile

    source, target = _train_source(config), config.data.target
    return cluster_profile(spark_engine(config), source, features, target, config.data.seed)


def _train_source(config: Config) -> DataSource:
    source = source_of(config, "train")
    assert source is not None  # data.train is required by the schema
    return source


def held_out_source(config: Config) -> DataSource:
    source = source_of(config, "eval")
    if source is None:
        raise ConfigError(
            "data.eval: engine: spark scores a held-out source on the cluster; set data.eval "
            "(a path, a URI such as s3a://..., or table:db.name)"
        )
    return source


def _sampled(
    config: Config, engine: SparkEngine, source: DataSource, columns: list[str]
) -> dict[str, Any]:
    limit, seed = config.engine.spark.train_sample_rows, config.data.seed
    frame = engine.sample(source, columns, limit, seed)
    fingerprint = engine.fingerprint(source)
    rows = engine.count(source)
    sample = {"rows": len(frame), "of_rows": rows, "seed": seed, "method": SAMPLE_METHOD}
    return {
        "path": source.location,
        "sha256": fingerprint.sha256,
        "rows": rows,
        "fingerprint": fingerprint.to_dict(),
        "sample": sample,
        "frame": frame,
    }


def _require(columns: list[str], wanted: list[str], source: DataSource) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"{source.label}: no column(s) {missing}; found {columns}")


def check_on_cluster(config: Config, champion: Champion) -> ValidationRecord:
    """validate under spark: presence, target and classes, the schema rules, the types
    the champion was trained on, train/eval consistency and drift, each computed on the
    cluster, in the local engine's order."""
    from ci_ml.records import ValidationRecord
    from ci_ml.stages.cluster_checks import consistency_failures
    from ci_ml.stages.validate import (
        _champion_data_hash,
        _champion_profile,
        _drift_message,
        _drift_warnings,
        data_hash,
        drifted,
        failure,
    )

    failures: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    for role in ("train", "eval"):
        entry, found = file_checks(config, role)
        failures.extend(found)
        if entry is not None:
            files[role] = entry
    drift, profile = None, _champion_profile(config, champion)
    if profile is not None and "train" in files:
        drift, found = _drift_failures(config, champion, profile, failures)
        failures.extend(found)
    failures.extend(consistency_failures(config, spark_engine(config), failures))
    if drift is not None and drifted(drift) and drift.get("action") == "block":
        failures.append(failure("drift", None, _drift_message(drift)))
    return ValidationRecord(
        passed=not [f for f in failures if f["severity"] == "error"],
        failures=failures,
        warnings=_drift_warnings(drift),
        files=files,
        drift=drift,
        data_hash=data_hash(files, config.config_hash),
        champion_data_hash=_champion_data_hash(champion.version),
    )


def _drift_failures(
    config: Config, champion: Champion, profile: dict[str, Any], found: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Drift of data.train from the champion's profile, and the failures of the types the
    champion was trained on (drift itself fails the run after the other checks)."""
    from ci_ml.stages.cluster_checks import cluster_drift, type_failures

    source = _train_source(config)
    drift, current = cluster_drift(config, spark_engine(config), champion, profile, source)
    return drift, type_failures(profile, current, source, found)


def cluster_drift_check(config: Config, champion: Champion, data: str | None) -> dict[str, Any]:
    """`ci-ml drift` under spark: `data` (default data.train) against the champion."""
    from ci_ml.stages.cluster_checks import cluster_drift
    from ci_ml.stages.validate import champion_profile

    source = parse_source(data, config.root) if data else _train_source(config)
    profile = champion_profile(champion)
    return cluster_drift(config, spark_engine(config), champion, profile, source)[0]


def file_checks(config: Config, role: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """data.<role> on the cluster: its fingerprint and rows, and presence/target failures."""
    from ci_ml.stages.validate import failure

    source = source_of(config, role)
    if source is None:
        return None, []
    from ci_ml.datasets import feature_columns

    engine, target = spark_engine(config), config.data.target
    try:
        feature_columns(config, engine.columns(source), source.label)
    except DataError as exc:
        return None, [failure("presence", None, exc.message)]
    from ci_ml.stages.cluster_checks import rule_failures

    rows, nulls, classes = engine.target_counts(source, target)
    fingerprint = engine.fingerprint(source)
    entry = {"path": source.location, "sha256": fingerprint.sha256, "rows": rows}
    found = _target_failures(config, source, nulls, classes)
    found += rule_failures(config, engine, source)
    return entry | {"fingerprint": fingerprint.to_dict()}, found


def _target_failures(
    config: Config, source: DataSource, nulls: int, classes: int
) -> list[dict[str, Any]]:
    from ci_ml.stages.validate import failure

    target, out = config.data.target, []
    if nulls:
        message = f"{source.label}: target {target!r} is empty in {nulls} row(s)"
        out.append(failure("not_null", target, message))
    if config.task == "classification" and classes < 2:
        out.append(
            failure("classes", target, f"{source.label}: target {target!r} has only one class")
        )
    return out
