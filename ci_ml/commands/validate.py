"""`ci-ml validate`: can the data be trusted? Writes validation.json.

Three layers, all failures collected: the files can be read and hold the
target and features; the data schema's rules (`validation:`); and, when a
champion exists, drift from the profile of the champion's training data
(`drift:`). An error fails the run (exit 1); a `warn` only reports.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ci_ml.data import data_sha256, read_table
from ci_ml.datasets import feature_columns
from ci_ml.errors import PASSED, VERDICT, DataError
from ci_ml.publishing import publish_outputs
from ci_ml.workspace import Workspace, log_group, say


def stage(ws: Workspace) -> dict[str, Any]:
    config = ws.config
    schema = data_schema(ws)
    failures: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    for role, path in {"train": config.data.train, "eval": config.data.eval}.items():
        if path is None:
            continue
        try:
            frame = read_table(path)
        except DataError as exc:
            failures.append(failure("file", None, exc.message))
            continue
        files[role] = {"path": str(path), "sha256": data_sha256(path), "rows": len(frame)}
        failures.extend(_frame_failures(ws, frame, str(path)))
        if schema is not None:
            failures.extend(_schema_failures(path, schema, role))
    champion = _champion(ws)
    drift = _drift(ws, champion) if "train" in files else None
    if drift is not None and drifted(drift) and drift.get("action") == "block":
        failures.append(failure("drift", None, _drift_message(drift)))
    result: dict[str, Any] = {
        "passed": not [f for f in failures if f["severity"] == "error"],
        "failures": failures,
        "warnings": _drift_warnings(drift),
        "files": files,
        "drift": drift,
        "data_hash": data_hash(files, ws.config.config_hash),
        "champion_data_hash": _champion_data_hash(champion),
    }
    ws.run.write("validation.json", result)
    publish_outputs(
        {"data-hash": result["data_hash"], "champion-data-hash": result["champion_data_hash"]}
    )
    return result


def data_hash(files: dict[str, Any], config_hash: str | None) -> str:
    """One fingerprint of what a model is trained from: the data files and the config.
    Equal to the champion's, a retrain would make the champion again (a weekly rerun)."""
    train = (files.get("train") or {}).get("sha256")
    if not train:
        return ""
    evaluation = (files.get("eval") or {}).get("sha256")
    return hashlib.sha256(json.dumps([train, evaluation, config_hash]).encode()).hexdigest()


def _champion(ws: Workspace) -> Any:
    from ci_ml.registry import open_registry

    registry = open_registry(ws.config)
    return registry, registry.champion()


def _champion_data_hash(champion: Any) -> str:
    _, version = champion
    if version is None:
        return ""
    data = version.card.get("data") or {}
    return data_hash(data, version.card.get("config_hash"))


def data_schema(ws: Workspace) -> Any:
    """The configured data schema, or None; a broken one is a config error (exit 2)."""
    section = ws.config.raw.get("validation")
    if not section or section.get("enabled") is False:
        return None
    from ci_ml.validation import schema_from_config

    return schema_from_config(section, ws.config.root)


def _frame_failures(ws: Workspace, frame: Any, source: str) -> list[dict[str, Any]]:
    config = ws.config
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


def _schema_failures(path: Path, schema: Any, role: str) -> list[dict[str, Any]]:
    from ci_ml.validation import validate_table

    result = validate_table(path, schema)
    return [_from_rule(f.to_dict(), path.name) for f in result.failures]


def _from_rule(entry: dict[str, Any], source: str) -> dict[str, Any]:
    examples = ", ".join(f"row {e['row']}: {e['value']!r}" for e in entry["examples"][:3])
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


def _drift(ws: Workspace, champion_of: Any) -> dict[str, Any] | None:
    """Drift of the training data from the champion's training profile, if both exist."""
    section = ws.config.raw.get("drift") or {}
    if section.get("enabled") is False:
        return None
    registry, champion = champion_of
    profile = registry.profile(champion.number) if champion else None
    if champion is None or profile is None:
        return None
    predictions = None
    if "prediction" in profile:
        predictions = _champion_predictions(ws, registry, champion)
    result = compare_with_profile(ws, profile, ws.config.data.train, predictions)
    return result | {"champion": champion.number}


def _champion_predictions(ws: Workspace, registry: Any, champion: Any) -> Any:
    """The champion's predictions on the new training rows, for prediction drift."""
    from ci_ml.modelfile import load_model
    from ci_ml.training import model_features

    features = list(champion.card.get("data", {}).get("features", []))
    frame = read_table(ws.config.data.train)
    if not features or any(c not in frame.columns for c in features):
        return None  # the columns changed: reported as schema drift instead
    model = load_model(registry.model_file(champion.number))
    return model.predict(model_features(frame[features]))


def compare_with_profile(
    ws: Workspace, profile: dict[str, Any], path: Path, predictions: Any = None
) -> dict[str, Any]:
    from ci_ml.validation import DriftOptions, detect_drift

    options = DriftOptions.from_config(ws.config.raw.get("drift"))
    reference = profile.get("prediction") if predictions is not None else None
    result = detect_drift(
        profile, path, options, predictions=predictions, prediction_profile=reference
    )
    data: dict[str, Any] = result.to_dict()
    return data


def drifted(drift: dict[str, Any]) -> bool:
    """Dataset drift, or columns added or removed since the champion was trained."""
    return bool(drift.get("dataset_drift") or drift.get("schema_changed"))


def drift_summary(drift: dict[str, Any]) -> str:
    changed = [c["column"] for c in drift.get("columns", []) if c.get("status") != "compared"]
    parts = []
    if drift.get("dataset_drift"):
        columns = ", ".join(drift.get("drifted_columns", [])[:5])
        parts.append(f"{drift['drifted_share']:.0%} of columns drifted ({columns})")
    if changed:
        parts.append(f"columns added or removed since the champion: {', '.join(changed[:5])}")
    return "; ".join(parts) or "no drift"


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


def run(ws: Workspace) -> int:
    result = stage(ws)
    with log_group(f"ci-ml validate: {len(result['failures'])} finding(s)", result["failures"]):
        for entry in result["failures"]:
            say(f"{entry['severity']}: {entry['message']}")
    if not result["passed"]:
        say("validate: the data is invalid")
        return VERDICT
    say("validate: data ok")
    return PASSED
