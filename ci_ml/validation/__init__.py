"""Data validation (schema rules) and drift against the champion's training profile.

The public API, for the CLI and the pipeline stages:

    infer_schema(data) -> dict                 dump_schema_yaml(schema, path=None) -> str
    load_schema(dict | path) -> DataSchema     validate_table(data, schema) -> ValidationResult
    schema_from_config(validation_section, base_dir) -> DataSchema | None
    DriftOptions.from_config(drift_section) -> DriftOptions
    build_profile(data, columns, target) -> dict    (JSON-ready; stored as profile.json)
    profile_values(values, name) -> dict       (reference predictions)
    detect_drift(profile, data, options, ...) -> DriftResult

See docs/validation.md for the rules, the statistics and their defaults.
"""

from __future__ import annotations

from ci_ml.validation.drift import ColumnDrift, DriftOptions, DriftResult, detect_drift
from ci_ml.validation.profile import build_profile, profile_values
from ci_ml.validation.rules import RuleFailure, ValidationResult, validate_table
from ci_ml.validation.schema import (
    DataSchema,
    dump_schema_yaml,
    infer_schema,
    load_schema,
    schema_from_config,
)

__all__ = [
    "ColumnDrift",
    "DataSchema",
    "DriftOptions",
    "DriftResult",
    "RuleFailure",
    "ValidationResult",
    "build_profile",
    "detect_drift",
    "dump_schema_yaml",
    "infer_schema",
    "load_schema",
    "profile_values",
    "schema_from_config",
    "validate_table",
]
