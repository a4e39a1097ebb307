"""Data schemas: checked against their JSON Schema, and inferred from trusted data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from ci_ml.errors import ConfigError, EnvironmentProblem
from ci_ml.validation import dump_schema_yaml, infer_schema, load_schema, validate_table


def message_of(schema: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_schema(schema)
    assert caught.value.exit_code == 2
    return caught.value.message


def test_a_wrong_value_names_its_key_path_expected_and_found() -> None:
    text = message_of({"columns": {"age": {"type": "int", "min": "old"}}})
    assert "columns.age.min: expected a number, got 'old'" in text


def test_unknown_keys_types_and_severities_are_named() -> None:
    assert "columns.age: unknown key 'minimum' (did you mean 'min'?)" in message_of(
        {"columns": {"age": {"minimum": 3}}}
    )
    assert "columns.age.type: expected one of" in message_of(
        {"columns": {"age": {"type": "integer"}}}
    )
    assert "severity" in message_of({"columns": {"a": {"min": {"value": 1, "severity": "x"}}}})
    assert "columns" in message_of({"table": {}})


def test_schema_file_that_fails_its_json_schema(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns:\n  a:\n    nullable: maybe\n", encoding="utf-8")
    text = message_of(path)
    assert str(path) in text and "columns.a.nullable" in text


def test_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "schema.yaml"
    path.write_text("columns: [unclosed\n", encoding="utf-8")
    assert "not valid YAML" in message_of(path)
    with pytest.raises(EnvironmentProblem):
        load_schema(tmp_path / "missing.yaml")


def test_invalid_regex_is_a_config_error() -> None:
    assert "not a valid regular expression" in message_of({"columns": {"a": {"regex": "([a-z"}}})


def test_rules_take_a_value_or_a_value_with_severity() -> None:
    schema = load_schema(
        {
            "severity": "warn",
            "columns": {
                "a": {"type": "float", "min": 0, "max": {"value": 9, "severity": "error"}},
                "b": {"type": "string", "severity": "error", "allowed": ["x"]},
            },
            "table": {"min_rows": {"value": 10, "severity": "warn"}},
        }
    )
    a, b = schema.columns["a"].rules, schema.columns["b"].rules
    assert (a["min"].severity, a["max"].severity, a["max"].value) == ("warn", "error", 9)
    assert a["finite"].value is True  # numeric columns reject inf unless told otherwise
    assert b["allowed"].severity == "error" and schema.table["min_rows"].value == 10


def trusted_table() -> pa.Table:
    return pa.table(
        {
            "id": list(range(1, 41)),
            "age": [20 + i % 30 for i in range(40)],
            "weight": [50.5 + i for i in range(40)],
            "island": ["Biscoe", "Dream", "Torgersen", None] * 10,
            "name": [f"penguin-{i}" for i in range(40)],
            "adult": ["true", "false"] * 20,
        }
    )


def test_infer_schema_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "trusted.csv"
    pacsv.write_csv(trusted_table(), path)
    columns = infer_schema(path)["columns"]
    assert columns["id"] == {"type": "int", "nullable": False, "min": 0, "max": 44, "unique": True}
    assert columns["age"]["type"] == "int" and columns["age"]["min"] == 17
    assert columns["weight"]["type"] == "float" and columns["weight"]["max"] >= 89.5
    assert columns["island"] == {
        "type": "string",
        "nullable": True,
        "allowed": ["Biscoe", "Dream", "Torgersen"],
    }
    assert "allowed" not in columns["name"] and columns["name"]["unique"] is True
    assert columns["adult"]["type"] == "bool"


def test_inferred_schema_round_trips_and_passes_on_its_own_data(tmp_path: Path) -> None:
    path = tmp_path / "trusted.parquet"
    pq.write_table(trusted_table(), path)
    out = tmp_path / "schema.yaml"
    text = dump_schema_yaml(infer_schema(path), out)
    assert text.startswith("# ci-ml data schema")
    assert validate_table(path, out).passed
    assert yaml.safe_load(out.read_text())["table"] == {"extra_columns": "forbid"}


CONFIG_EXAMPLE = """
validation:
  schema_file: data-schema.yaml
drift:
  action: block
  retrain_on_drift: false
  share: 0.3
  methods: {numeric: auto, categorical: auto}
  thresholds: {wasserstein: 0.1, psi: 0.2, jensenshannon: 0.1}
  columns:
    age: {method: psi, threshold: 0.25}
    id: {ignore: true}
"""


def test_shipped_json_schemas_are_valid_and_accept_the_documented_config() -> None:
    import jsonschema

    from ci_ml.validation.schema import config_sections_schema, json_schema

    jsonschema.Draft202012Validator.check_schema(json_schema("data-schema.schema.json"))
    fragment = config_sections_schema()
    jsonschema.validate(yaml.safe_load(CONFIG_EXAMPLE), fragment)
    both = {"validation": {"schema": {}, "schema_file": "x.yaml"}}
    assert list(jsonschema.Draft202012Validator(fragment).iter_errors(both))


def test_schema_from_config_inline_file_or_none(tmp_path: Path) -> None:
    from ci_ml.validation import schema_from_config

    (tmp_path / "data-schema.yaml").write_text("columns:\n  a: {type: int}\n", encoding="utf-8")
    from_file = schema_from_config({"schema_file": "data-schema.yaml"}, tmp_path)
    assert from_file is not None and from_file.columns["a"].type == "int"
    inline = schema_from_config({"schema": {"columns": {"b": {"type": "float"}}}})
    assert inline is not None and list(inline.columns) == ["b"]
    assert schema_from_config(None) is None
    with pytest.raises(ConfigError, match="validation: unknown key"):
        schema_from_config({"shema": {}})
