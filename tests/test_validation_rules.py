"""Schema rules: each rule, laziness, severities and the bad inputs of issue 3."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ci_ml.errors import ConfigError
from ci_ml.validation import RuleFailure, ValidationResult, validate_table


def as_file(tmp_path: Path, table: pa.Table, kind: str) -> Path:
    path = tmp_path / f"data.{kind}"
    if kind == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def check(
    tmp_path: Path,
    data: dict[str, list[Any]],
    columns: dict[str, Any],
    kind: str = "csv",
    **table: Any,
) -> ValidationResult:
    path = as_file(tmp_path, pa.table(data), kind)
    schema: dict[str, Any] = {"columns": columns}
    if table:
        schema["table"] = table
    return validate_table(path, schema)


def only(result: ValidationResult, rule: str) -> RuleFailure:
    found = [f for f in result.failures if f.rule == rule]
    assert len(found) == 1, result.failures
    return found[0]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_clean_data_passes(tmp_path: Path, kind: str) -> None:
    result = check(
        tmp_path,
        {"x": [1.5, 2.5], "n": [1, 2], "s": ["a", "b"]},
        {
            "x": {"type": "float", "min": 0, "max": 3, "nullable": False},
            "n": {"type": "int", "unique": True, "allowed": [1, 2]},
            "s": {"type": "string", "allowed": ["a", "b"], "regex": "^[ab]$"},
        },
        kind,
        extra_columns="forbid",
        min_rows=2,
        duplicate_rows="forbid",
    )
    assert result.passed and result.failures == [] and result.rows == 2


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_strings_in_a_float_column_name_their_rows(tmp_path: Path, kind: str) -> None:
    result = check(tmp_path, {"x": ["1.5", "abc", "2", "n/a?"]}, {"x": {"type": "float"}}, kind)
    failure = only(result, "type")
    assert (failure.column, failure.failing_rows) == ("x", 2)
    assert failure.examples == [(1, "abc"), (3, "n/a?")]
    assert failure.expected == "float" and "'abc'" in failure.found


def test_fractions_in_an_int_column(tmp_path: Path) -> None:
    failure = only(check(tmp_path, {"n": [1.0, 2.5, 3.0]}, {"n": {"type": "int"}}), "type")
    assert failure.examples == [(1, "2.5")]


def test_bool_column(tmp_path: Path) -> None:
    result = check(tmp_path, {"b": ["true", "no", "maybe", None]}, {"b": {"type": "bool"}})
    assert only(result, "type").examples == [(2, "maybe")]


def test_missing_column_and_extra_columns(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        {"a": [1], "z": [2]},
        {"a": {"type": "int"}, "b": {"type": "int"}, "c": {"required": False}},
        extra_columns="forbid",
    )
    missing = only(result, "required")
    assert (missing.column, missing.found) == ("b", "column missing")
    assert "['z']" in only(result, "extra_columns").found


def test_extra_columns_allowed_by_default(tmp_path: Path) -> None:
    assert check(tmp_path, {"a": [1], "z": [2]}, {"a": {"type": "int"}}).passed


def test_nullable_and_max_null_fraction(tmp_path: Path) -> None:
    data = {"a": [1.0, None, None, 4.0], "b": ["x", None, "y", "z"]}
    result = check(
        tmp_path, data, {"a": {"nullable": False}, "b": {"max_null_fraction": 0.1}}, "parquet"
    )
    nulls = only(result, "nullable")
    assert (nulls.failing_rows, [r for r, _ in nulls.examples]) == (2, [1, 2])
    fraction = only(result, "max_null_fraction")
    assert fraction.found == "25.00% null" and fraction.failing_rows == 1


def test_all_null_column(tmp_path: Path) -> None:
    data = {"a": pa.array([None, None, None], pa.float64())}
    result = check(tmp_path, data, {"a": {"type": "float", "nullable": False}}, "parquet")
    assert only(result, "nullable").failing_rows == 3


def test_min_and_max_report_the_extremes(tmp_path: Path) -> None:
    result = check(tmp_path, {"a": [5, -3, 12, 150, -7]}, {"a": {"min": 0, "max": 100}})
    low, high = only(result, "min"), only(result, "max")
    assert (low.failing_rows, low.found, low.examples[0]) == (2, "min -7", (1, -3))
    assert (high.expected, high.found) == ("<= 100", "max 150")


def test_nan_counts_as_null_and_inf_fails_finite(tmp_path: Path) -> None:
    data = {"a": [1.0, math.nan, math.inf, -math.inf]}
    result = check(tmp_path, data, {"a": {"type": "float", "nullable": False}}, "parquet")
    assert only(result, "nullable").examples == [(1, "nan")]
    finite = only(result, "finite")
    assert finite.failing_rows == 2 and finite.examples == [(2, "inf"), (3, "-inf")]


def test_inf_in_csv_and_allowing_it(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a\n1\ninf\nNaN\n", encoding="utf-8")
    assert only(validate_table(path, {"columns": {"a": {"type": "float"}}}), "finite")
    assert validate_table(path, {"columns": {"a": {"type": "float", "finite": False}}}).passed


def test_a_category_never_seen(tmp_path: Path) -> None:
    data = {"island": ["Biscoe", "Dream", "Biscoe-2", "Biscoe-2", "Atlantis"]}
    result = check(tmp_path, data, {"island": {"allowed": ["Biscoe", "Dream"]}})
    failure = only(result, "allowed")
    assert failure.failing_rows == 3 and failure.found == "'Biscoe-2', 'Atlantis'"
    assert failure.examples[0] == (2, "Biscoe-2")


def test_numeric_allowed_values(tmp_path: Path) -> None:
    result = check(tmp_path, {"y": [0, 1, 2, 1]}, {"y": {"type": "int", "allowed": [0, 1]}})
    assert only(result, "allowed").examples == [(2, 2)]


def test_unique_numbers_and_strings(tmp_path: Path) -> None:
    data = {"id": [1, 2, 2, 3, 3, 3], "name": ["a", "b", "c", "d", "e", "a"]}
    result = check(
        tmp_path, data, {"id": {"unique": True, "type": "int"}, "name": {"unique": True}}
    )
    ids = next(f for f in result.failures if f.column == "id")
    assert ids.failing_rows == 5 and [r for r, _ in ids.examples] == [1, 2, 3, 4, 5]
    names = next(f for f in result.failures if f.column == "name")
    assert names.failing_rows == 2 and names.examples == [(0, "a"), (5, "a")]


def test_regex(tmp_path: Path) -> None:
    result = check(
        tmp_path, {"code": ["AB-1", "ab-2", "AB-3", None]}, {"code": {"regex": "^[A-Z]{2}-[0-9]$"}}
    )
    assert only(result, "regex").examples == [(1, "ab-2")]


def test_a_regex_arrow_cannot_run_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"columns.code.regex"):
        check(tmp_path, {"code": ["a"]}, {"code": {"regex": "^(?=a)"}})


def test_row_count_bounds_and_duplicated_rows(tmp_path: Path) -> None:
    data = {"a": [1, 2, 1, 1], "b": ["x", "y", "x", "z"]}
    result = check(tmp_path, data, {"a": {}}, min_rows=5, max_rows=3, duplicate_rows="forbid")
    assert only(result, "min_rows").found == "4 rows"
    assert only(result, "max_rows").expected == "<= 3 rows"
    duplicated = only(result, "duplicate_rows")
    assert duplicated.failing_rows == 1 and duplicated.examples[0][0] == 2


def test_validation_is_lazy_and_severities_decide(tmp_path: Path) -> None:
    data = {"x": ["1", "oops", "-5", None], "s": ["a", "b", "zz", "a"]}
    columns = {
        "x": {"type": "float", "min": {"value": 0, "severity": "warn"}, "nullable": False},
        "s": {"allowed": ["a", "b"], "severity": "warn"},
        "gone": {"type": "int"},
    }
    result = check(tmp_path, data, columns)
    rules = sorted((f.column, f.rule, f.severity) for f in result.failures)
    assert rules == [
        ("gone", "required", "error"),
        ("s", "allowed", "warn"),
        ("x", "min", "warn"),
        ("x", "nullable", "error"),
        ("x", "type", "error"),
    ]
    assert not result.passed and len(result.errors) == 3 and len(result.warnings) == 2


def test_warnings_alone_pass(tmp_path: Path) -> None:
    result = check(tmp_path, {"a": [-1]}, {"a": {"min": {"value": 0, "severity": "warn"}}})
    assert result.passed and result.warnings


def test_to_dict_is_json_ready(tmp_path: Path) -> None:
    result = check(tmp_path, {"a": [1.0, math.inf]}, {"a": {"type": "float"}}, "parquet")
    record = json.loads(json.dumps(result.to_dict()))
    assert record["passed"] is False and record["errors"] == 1
    assert record["failures"][0]["examples"] == [{"row": 1, "value": "inf"}]
    assert set(record["failures"][0]) == {
        "column",
        "rule",
        "severity",
        "expected",
        "found",
        "failing_rows",
        "examples",
    }


def test_rows_are_numbered_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ci_ml.validation.scan.PARQUET_BATCH_ROWS", 7)
    values = [1.0] * 50
    values[33] = -1.0
    result = check(tmp_path, {"a": values}, {"a": {"min": 0}}, "parquet")
    assert only(result, "min").examples == [(33, -1)]
