"""validate: can the data be trusted?

Three layers, all failures collected: the files can be read and hold the
target and features; the data schema's rules (`validation:`); and, when a
champion exists, drift from the profile of the champion's training data
(`drift:`). An error fails the run; a `warn` only reports. Prediction drift
runs last, and only on rows whose values have the types the champion was
trained on, so a bad batch is a verdict, never a crash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.data import data_sha256, read_table
from ci_ml.datasets import feature_columns
from ci_ml.errors import DataError
from ci_ml.github.plan import write_step_outputs
from ci_ml.records import ValidationRecord

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config
    from ci_ml.environment import Environment
    from ci_ml.registry.base import Registry, Version
    from ci_ml.rundir import RunDir


@dataclass(frozen=True)
class Champion:
    """The registry and its champion version (None when there is none yet)."""

    registry: Registry
    version: Version | None


def validate(config: Config, run: RunDir, registry: Registry, env: Environment) -> ValidationRecord:
    """validation.json written, and the data hashes as step outputs (for a weekly rerun)."""
    record = check_data(config, Champion(registry, registry.champion()))
    run.save(record)
    outputs = {"data-hash": record.data_hash, "champion-data-hash": record.champion_data_hash}
    write_step_outputs(env.output_path, outputs)
    return record


def check_data(config: Config, champion: Champion) -> ValidationRecord:
    """File checks, schema rules, then drift against the champion, all failures kept."""
    if config.engine.name == "spark":
        from ci_ml.stages.cluster import check_on_cluster

        return check_on_cluster(config, champion)
    schema = data_schema(config)
    profile = _champion_profile(config, champion)
    failures: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    frames: dict[str, pd.DataFrame] = {}
    for role, path in {"train": config.data.train, "eval": config.data.eval}.items():
        if path is None:
            continue
        frame, found = _check_file(config, path, schema, profile)
        failures.extend(found)
        if frame is not None:
            frames[role] = frame
            files[role] = {"path": str(path), "sha256": data_sha256(path), "rows": len(frame)}
    failures.extend(_consistency_failures(config, frames, failures))
    drift = None
    if profile is not None and "train" in frames:
        drift = _drift(config, champion, profile, frames["train"])
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


def _check_file(
    config: Config, path: Path, schema: Any, profile: dict[str, Any] | None
) -> tuple[pd.DataFrame | None, list[dict[str, Any]]]:
    """The file's rows (None when unreadable) and its failures: presence and target,
    the schema rules, then the types the champion was trained on."""
    try:
        frame = read_table(path)
    except DataError as exc:
        return None, [failure("file", None, exc.message)]
    found = _frame_failures(config, frame, str(path))
    if schema is not None:
        found.extend(_schema_failures(path, schema))
    if profile is not None:
        found.extend(_type_failures(frame, profile, path.name, found))
    return frame, found


def _consistency_failures(
    config: Config, frames: dict[str, pd.DataFrame], found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Train/eval mismatches a model could not be scored on; a column faulted already
    (by the schema rules or the champion's types) is not named twice."""
    from ci_ml.validation.consistency import train_eval_failures

    named = {f.get("column") for f in found}
    return [f for f in train_eval_failures(config, frames) if f["column"] not in named]


def data_hash(files: dict[str, Any], config_hash: str | None) -> str:
    """One fingerprint of what a model is trained from: the data files and the config.
    Equal to the champion's, a retrain would make the champion again (a weekly rerun)."""
    train = (files.get("train") or {}).get("sha256")
    if not train:
        return ""
    evaluation = (files.get("eval") or {}).get("sha256")
    return hashlib.sha256(json.dumps([train, evaluation, config_hash]).encode()).hexdigest()


def _champion_data_hash(version: Version | None) -> str:
    if version is None:
        return ""
    data = version.card.get("data") or {}
    return data_hash(data, version.card.get("config_hash"))


def data_schema(config: Config) -> Any:
    """The configured data schema, or None; a broken one is a config error (exit 2)."""
    settings = config.validation
    if not settings.enabled:
        return None
    from ci_ml.validation import load_schema

    found = settings.schema_file or settings.schema
    return None if found is None else load_schema(found)


def _frame_failures(config: Config, frame: Any, source: str) -> list[dict[str, Any]]:
    target = config.data.target
    try:
        feature_columns(config, list(frame.columns), source)
    except DataError as exc:
        return [failure("presence", None, exc.message)]
    missing = frame[target].isna()
    out = []
    if bool(missing.any()):
        rows = [int(i) for i in missing[missing].index[:5]]
        message = (
            f"{source}: target {target!r} is empty in {int(missing.sum())} row(s), "
            f"e.g. rows {rows} (0-based, header excluded)"
        )
        out.append(failure("not_null", target, message))
    if config.task == "classification" and frame[target].nunique() < 2:
        out.append(failure("classes", target, f"{source}: target {target!r} has only one class"))
    return out


def _schema_failures(path: Path, schema: Any) -> list[dict[str, Any]]:
    from ci_ml.validation import validate_table

    result = validate_table(path, schema)
    return [_from_rule(f.to_dict(), path.name) for f in result.failures]


def _from_rule(entry: dict[str, Any], source: str) -> dict[str, Any]:
    from ci_ml.validation.consistency import where as row_of

    examples = ", ".join(f"{row_of(e)}: {e['value']!r}" for e in entry["examples"][:3])
    where = f"column {entry['column']!r}" if entry["column"] else "the table"
    message = (
        f"{source}: {where} fails {entry['rule']}: expected {entry['expected']}, "
        f"found {entry['found']}"
    )
    if entry.get("failing_rows"):
        message += f" ({entry['failing_rows']} row(s){'; ' + examples if examples else ''})"
    return entry | {"message": message}


def failure(rule: str, column: str | None, message: str, severity: str = "error") -> dict[str, Any]:
    return {"severity": severity, "rule": rule, "column": column, "message": message}


def _champion_profile(config: Config, champion: Champion) -> dict[str, Any] | None:
    """The profile of the champion's training data, unless drift is turned off."""
    if not config.drift.enabled or champion.version is None:
        return None
    return champion.registry.profile(champion.version.number)


def _drift(
    config: Config, champion: Champion, profile: dict[str, Any], frame: pd.DataFrame
) -> dict[str, Any]:
    """Drift of the training data from the champion's training profile. The frame read
    once for the run is scanned (as the profile was built, from the typed frame), here:
    in a thread beside the champion's load (Python holding the GIL) the scan waited for
    the GIL thousands of times and slowed the load more than it saved."""
    from ci_ml.validation.drift import DriftOptions, scan_data
    from ci_ml.validation.scan import arrow_table

    assert champion.version is not None
    options = DriftOptions.from_config(config.drift.options)
    table = arrow_table(frame)
    scanned = scan_data(profile, table, options)
    predictions, sample = None, None
    if "prediction" in profile:
        sample = prediction_sample(profile, len(frame), config.data.seed)
        predictions = _champion_predictions(champion, profile, sample.rows_of(frame))
    result = _judged(profile, scanned, options, predictions)
    if predictions is not None and sample is not None:
        result["prediction_sample"] = sample.to_dict(len(predictions))
    return result | {"champion": champion.version.number}


@dataclass(frozen=True)
class PredictionSample:
    """Which rows the champion predicts for prediction drift: a seeded sample as large as
    the one its training profile was built from (a distribution needs no more rows)."""

    size: int
    seed: int

    def rows_of(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.size >= len(frame):
            return frame
        return frame.sample(n=self.size, random_state=self.seed)

    def to_dict(self, predicted: int) -> dict[str, Any]:
        return {"rows": predicted, "size": self.size, "seed": self.seed}


def prediction_sample(profile: dict[str, Any], rows: int, seed: int) -> PredictionSample:
    """As many rows as training samples for the profile's predictions (or as the profile
    holds, when more): every row of a small file, 10,000 of a large one."""
    from ci_ml.stages.train import PREDICTION_SAMPLE

    profiled = int((profile.get("prediction") or {}).get("rows") or 0)
    return PredictionSample(min(rows, max(profiled, PREDICTION_SAMPLE)), seed)


def _type_failures(
    frame: pd.DataFrame, profile: dict[str, Any], source: str, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Numbers the champion was trained on that are now text or infinite: the champion
    cannot read them. A column the schema rules already faulted is not named twice."""
    import numpy as np
    import pandas as pd

    named = {f.get("column") for f in found}
    out = []
    for column, entry in profile.get("columns", {}).items():
        if entry.get("kind") != "numeric" or column not in frame.columns or column in named:
            continue
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values.notna() & ~(numbers.notna() & np.isfinite(numbers))
        if bool(bad.any()):
            out.append(_type_failure(column, values[bad], source))
    return out


def _type_failure(column: str, bad: pd.Series, source: str) -> dict[str, Any]:
    examples = [{"row": int(i), "value": str(v)} for i, v in bad.head(5).items()]
    shown = ", ".join(f"row {e['row']}: {e['value']!r}" for e in examples[:3])
    found = f"{len(bad)} value(s) that are not finite numbers"
    message = (
        f"{source}: column {column!r} fails type: expected finite numbers, as the champion "
        f"was trained on, found {found} ({shown})"
    )
    return failure("type", column, message) | {
        "expected": "finite numbers (the champion's training data)",
        "found": found,
        "failing_rows": len(bad),
        "examples": examples,
    }


def _champion_predictions(champion: Champion, profile: dict[str, Any], frame: Any) -> Any:
    """The champion's predictions on the new rows whose values have the types it was
    trained on (None when no row does); the other rows are the schema rules' verdict."""
    from ci_ml.modelfile import load_model
    from ci_ml.training import model_features

    assert champion.version is not None
    features = list(champion.version.card.get("data", {}).get("features", []))
    if not features or any(c not in frame.columns for c in features):
        return None  # the columns changed: reported as schema drift instead
    rows = well_typed_rows(frame[features], profile.get("columns", {}))
    if rows.empty:
        return None
    model = load_model(champion.registry.model_file(champion.version.number))
    try:
        return model.predict(model_features(rows))
    except (ValueError, TypeError):
        return None  # values the champion cannot read: the schema rules speak for them


def well_typed_rows(frame: pd.DataFrame, reference: dict[str, Any]) -> pd.DataFrame:
    """Rows whose numeric columns (numeric in the training profile) hold finite numbers
    or nothing: text in a number column or an infinity leaves the row out."""
    import numpy as np
    import pandas as pd

    keep = pd.Series(True, index=frame.index)
    typed = frame.copy()
    for column in frame.columns:
        if (reference.get(column) or {}).get("kind") != "numeric":
            continue
        numbers = pd.to_numeric(frame[column], errors="coerce")
        readable = frame[column].isna() | (numbers.notna() & np.isfinite(numbers))
        keep &= readable
        typed[column] = numbers
    return typed[keep]


def compare_with_profile(
    config: Config, profile: dict[str, Any], data: Any, predictions: Any = None
) -> dict[str, Any]:
    """Drift of `data` (a frame, or a file read as text) from the profile."""
    from ci_ml.validation.drift import DriftOptions, scan_data

    options = DriftOptions.from_config(config.drift.options)
    return _judged(profile, scan_data(profile, data, options), options, predictions)


def _judged(
    profile: dict[str, Any], scanned: tuple[Any, list[str]], options: Any, predictions: Any
) -> dict[str, Any]:
    """The drift record of scanned data (`scan_data`), with prediction drift when the
    champion's predictions are given."""
    from ci_ml.validation.drift import judge_drift

    found, wanted = scanned
    reference = profile.get("prediction") if predictions is not None else None
    judged = judge_drift(profile, found, wanted, options, predictions, reference)
    result: dict[str, Any] = judged.to_dict()
    return result


def drifted(drift: dict[str, Any]) -> bool:
    """Dataset drift, or columns added or removed since the champion was trained."""
    return bool(drift.get("dataset_drift") or drift.get("schema_changed"))


def drift_summary(drift: dict[str, Any]) -> str:
    changed = [c["column"] for c in drift.get("columns", []) if c.get("status") != "compared"]
    parts = []
    if drift.get("dataset_drift"):
        columns = first_few(drift.get("drifted_columns", []))
        parts.append(f"{drift['drifted_share']:.0%} of columns drifted ({columns})")
    if changed:
        parts.append(f"columns added or removed since the champion: {first_few(changed)}")
    return "; ".join(parts) or "no drift"


def first_few(names: list[str], shown: int = 5) -> str:
    """The first names, and how many more there are: a list never looks complete when cut."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _drift_message(drift: dict[str, Any]) -> str:
    return (
        f"the training data drifted from the champion's (version {drift.get('champion')}): "
        f"{drift_summary(drift)}; drift.action is block"
    )


def _drift_warnings(drift: dict[str, Any] | None) -> list[str]:
    if drift is None or not drifted(drift) or drift.get("action") == "block":
        return []
    action = drift.get("action", "warn")
    return [
        f"data drift from the champion's training data: {drift_summary(drift)} "
        f"(drift.action is {action})"
    ]


@dataclass(frozen=True)
class DriftCheck:
    """`ci-ml drift`'s answer: the comparison, and whether to retrain."""

    result: dict[str, Any]

    @property
    def drifted(self) -> bool:
        return drifted(self.result)

    @property
    def retrain(self) -> bool:
        return bool(self.result.get("retrain")) or self.drifted

    @property
    def summary(self) -> str:
        return drift_summary(self.result)


def check_drift(config: Config, champion: Champion, path: Path) -> DriftCheck:
    """Drift of a data file (default data.train) from the champion's training profile."""
    assert champion.version is not None
    if config.engine.name == "spark":
        from ci_ml.stages.cluster import cluster_drift_check

        data = None if path == config.data.train else str(path)
        return DriftCheck(cluster_drift_check(config, champion, data))
    profile = champion_profile(champion)
    number = champion.version.number
    # typed, as the profile was built and as `check` compares: text would make a CSV's
    # booleans ("True") new categories next to the profile's ("true")
    frame = read_table(path)
    return DriftCheck(compare_with_profile(config, profile, frame) | {"champion": number})


def champion_profile(champion: Champion) -> dict[str, Any]:
    """The champion's training profile, which `ci-ml drift` cannot do without."""
    from ci_ml.errors import EnvironmentProblem

    assert champion.version is not None
    number = champion.version.number
    profile = champion.registry.profile(number)
    if profile is None:
        raise EnvironmentProblem(
            f"champion version {number} has no training profile (trained by an older "
            "ci-ml?); promote a model trained by this version to check drift"
        )
    return profile
