"""validate's data checks under `engine: spark`: rules, types and drift on the cluster.

The schema rules run on each source as `validate_table` runs them (see
engines/spark_rules); drift compares the training source with the champion's
profile from cluster-side statistics and decides with the local engine's
function (see engines/spark_profile); the train/eval consistency checks find the
local checks' offending rows on the cluster (see engines/spark_consistency). Only
tallies, summaries and seeded samples of bounded size reach the runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.engines import DataSource
    from ci_ml.engines.spark import SparkEngine
    from ci_ml.stages.validate import Champion
    from ci_ml.validation.drift import CurrentData


def rule_failures(config: Config, engine: SparkEngine, source: DataSource) -> list[dict[str, Any]]:
    """The data schema's failures on the source, worded as validate words them locally."""
    from ci_ml.engines.spark_rules import check_rules
    from ci_ml.stages.validate import _from_rule, data_schema

    schema = data_schema(config)
    if schema is None:
        return []
    result = check_rules(engine, source, schema)
    return [_from_rule(f.to_dict(), source_name(source)) for f in result.failures]


def source_name(source: DataSource) -> str:
    """What messages call the source: a local file by its name, as validate does."""
    return Path(source.location).name if source.kind == "path" else source.label


def cluster_drift(
    config: Config,
    engine: SparkEngine,
    champion: Champion,
    profile: dict[str, Any],
    source: DataSource,
) -> tuple[dict[str, Any], CurrentData]:
    """Drift of `source` from the champion's training `profile`, and the new data's side."""
    from ci_ml.engines.spark_profile import cluster_current
    from ci_ml.validation.drift import DriftOptions, drift_columns, judge_drift

    assert champion.version is not None
    options = DriftOptions.from_config(config.drift.options)
    wanted, compared = drift_columns(profile, engine.columns(source), options)
    current = cluster_current(engine, source, profile, compared, options.seed)
    predictions, sample = _predictions(config, engine, champion, profile, source, current.rows)
    reference = profile.get("prediction") if predictions is not None else None
    result = judge_drift(profile, current, wanted, options, predictions, reference).to_dict()
    if predictions is not None and sample is not None:
        result["prediction_sample"] = sample.to_dict(len(predictions))
    return result | {"champion": champion.version.number}, current


def _predictions(
    config: Config,
    engine: SparkEngine,
    champion: Champion,
    profile: dict[str, Any],
    source: DataSource,
    rows: int,
) -> tuple[Any, Any]:
    """The champion's predictions on a seeded sample as large as its profile's."""
    from ci_ml.stages.validate import _champion_predictions, prediction_sample

    assert champion.version is not None
    features = list(champion.version.card.get("data", {}).get("features", []))
    if "prediction" not in profile or not features:
        return None, None
    if any(c not in engine.columns(source) for c in features):
        return None, None  # the columns changed: reported as schema drift instead
    sample = prediction_sample(profile, rows, config.data.seed)
    frame = engine.sample(source, features, sample.size, sample.seed)
    return _champion_predictions(champion, profile, frame), sample


def type_failures(
    profile: dict[str, Any], current: CurrentData, source: DataSource, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Numbers the champion was trained on that are now text or infinite (counted on the
    cluster); a column the schema rules already faulted is not named twice."""
    from ci_ml.stages.validate import failure

    named = {f.get("column") for f in found}
    out = []
    for column, entry in current.columns.items():
        stats = entry.accumulator.numeric
        bad = stats.invalid + stats.infinite
        numeric = (profile["columns"].get(column) or {}).get("kind") == "numeric"
        if not numeric or not bad or column in named or entry.kind != "numeric":
            continue
        text = f"{bad} value(s) that are not finite numbers"
        message = (
            f"{source_name(source)}: column {column!r} fails type: expected finite numbers, "
            f"as the champion was trained on, found {text}"
        )
        out.append(
            failure("type", column, message)
            | {
                "expected": "finite numbers (the champion's training data)",
                "found": text,
                "failing_rows": bad,
                "examples": [],
            }
        )
    return out


def consistency_failures(
    config: Config, engine: SparkEngine, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`consistency.train_eval_failures` on the cluster, worded as validate words them;
    a column faulted already (schema rules, the champion's types) is not named twice."""
    from ci_ml.engines.spark_consistency import number_columns
    from ci_ml.stages.cluster import source_of
    from ci_ml.validation.consistency import check_slice_columns, numeric_columns

    train, held = source_of(config, "train"), source_of(config, "eval")
    if train is None:
        return []
    frame = engine.read(train)
    if config.data.target not in frame.columns:
        return []
    check_slice_columns(config, engine.columns(held or train))
    numeric = numeric_columns(config, list(frame.columns), number_columns(frame))
    out: list[dict[str, Any]] = []
    for source, known in ((train, None), (held, train)):
        if source is not None and config.data.target in engine.columns(source):
            out += _source_failures(config, engine, source, numeric, known)
    named = {f.get("column") for f in found}
    return [f for f in out if f["column"] not in named]


def _source_failures(
    config: Config,
    engine: SparkEngine,
    source: DataSource,
    numeric: list[str],
    known: DataSource | None,
) -> list[dict[str, Any]]:
    """One source's number columns that hold text or infinities, and for a classifier's
    eval rows, the classes the training rows (`known`) never have."""
    from ci_ml.engines.spark_consistency import not_finite_rows, unseen_classes
    from ci_ml.validation.consistency import number_failure, unseen_failure

    name, columns = source_name(source), engine.columns(source)
    wanted = [c for c in numeric if c in columns]
    bad = not_finite_rows(engine, source, wanted)
    out = [number_failure(config, c, bad[c], name) for c in wanted if c in bad]
    if known is not None and config.task == "classification":
        unseen = unseen_classes(engine, known, source, config.data.target)
        if unseen is not None:
            classes, rows, note = unseen
            out.append(unseen_failure(config, classes, rows, name, note))
    return out
