"""`ci-ml schema infer DATA`: a data schema from a trusted file, for a person to edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_ml.errors import PASSED, ConfigError
from ci_ml.output import Output, cell, emit
from ci_ml.workspace import say

HEADERS = ["column", "type", "nullable", "checks"]


def infer(data: str, output: str | None, force: bool = False, output_format: str = "text") -> int:
    from ci_ml.validation import dump_schema_yaml, infer_schema

    if output is not None and output_format != "text":
        raise ConfigError(f"--format {output_format} prints the schema; --output writes it as YAML")
    schema = infer_schema(Path(data))
    if output is None:
        emit(view(schema, dump_schema_yaml(schema)), output_format)
        return PASSED
    target = Path(output)
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; pass --force to overwrite it")
    dump_schema_yaml(schema, target)
    say(f"schema: wrote {target} ({len(schema.get('columns', {}))} columns); review and edit it")
    return PASSED


def view(schema: dict[str, Any], yaml_text: str) -> Output:
    """Text is the YAML a person saves and edits; markdown a table of the columns."""
    columns = schema.get("columns", {})
    rows = [
        [name, rule.get("type"), rule.get("nullable"), _checks(rule)]
        for name, rule in columns.items()
    ]
    headline = f"schema: {len(columns)} columns"
    return Output(schema, headline, HEADERS, rows, text=yaml_text)


def _checks(rule: dict[str, Any]) -> str:
    checks = {key: value for key, value in rule.items() if key not in ("type", "nullable")}
    return "; ".join(f"{key}: {cell(value)}" for key, value in checks.items())
