"""Data validation (schema rules) and drift against the champion's training profile.

The public API, for the CLI and the pipeline stages:

    infer_schema(data) -> dict                 dump_schema_yaml(schema, path=None) -> str
    load_schema(dict | path) -> DataSchema     validate_table(data, schema) -> ValidationResult
    schema_from_config(validation_section, base_dir) -> DataSchema | None
    DriftOptions.from_config(drift_section) -> DriftOptions
    build_profile(data, columns, target) -> dict    save_profile / load_profile
    profile_values(values, name) -> dict       (reference predictions)
    detect_drift(profile, data, options, ...) -> DriftResult
    render_markdown(validation, drift) -> str

See docs/validation.md for the rules, the statistics and their defaults.
"""

from __future__ import annotations

from ci_ml.validation.drift import ColumnDrift, DriftOptions, DriftResult, detect_drift
from ci_ml.validation.markdown import render_markdown
from ci_ml.validation.profile import (
    build_profile,
    load_profile,
    profile_values,
    save_profile,
)
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
    "load_profile",
    "load_schema",
    "profile_values",
    "render_markdown",
    "save_profile",
    "schema_from_config",
    "validate_table",
]
