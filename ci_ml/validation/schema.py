"""Data schemas: load and check one, or infer one from a trusted data file.

A schema is YAML (inline under `validation.schema` in ci-ml.yaml, or its own file)
and is itself checked against ci_ml/schemas/data-schema.schema.json. Every rule is
either a bare value (`min: 0`) or `{value: 0, severity: warn}`; a column-level
`severity` sets the default for that column's rules, and the top-level one for all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from ci_ml.config import problem_of
from ci_ml.errors import ConfigError, EnvironmentProblem
from ci_ml.validation.scan import as_booleans, as_numbers, as_text, is_text_type, open_source

SCHEMA_RESOURCE = "data-schema.schema.json"
CONFIG_SCHEMA = "config.schema.json"
NUMERIC_TYPES = ("int", "float")
MAX_CATEGORIES = 20
RANGE_MARGIN = 0.1


@dataclass(frozen=True)
class Rule:
    """One rule of a schema: its value and what a failure of it means."""

    name: str
    value: Any
    severity: str = "error"


@dataclass
class ColumnSpec:
    """The rules of one column; `type` is None when the schema leaves it open."""

    name: str
    type: str | None
    rules: dict[str, Rule] = field(default_factory=dict)


@dataclass
class DataSchema:
    """A checked data schema, ready for validate_table."""

    columns: dict[str, ColumnSpec]
    table: dict[str, Rule]
    source: dict[str, Any]


def json_schema(name: str = SCHEMA_RESOURCE) -> dict[str, Any]:
    """A JSON Schema shipped in ci_ml/schemas/."""
    text = resources.files("ci_ml").joinpath("schemas", name).read_text(encoding="utf-8")
    return dict(json.loads(text))


def config_sections_schema() -> dict[str, Any]:
    """The `validation:` and `drift:` sections of the ci-ml.yaml schema, on their own."""
    config = json_schema(CONFIG_SCHEMA)
    sections = {key: config["properties"][key] for key in ("validation", "drift")}
    return {"type": "object", "properties": sections}


def load_schema(schema: DataSchema | dict[str, Any] | str | Path) -> DataSchema:
    """A data schema from a dict (parsed YAML) or a YAML file; ConfigError if it is wrong."""
    if isinstance(schema, DataSchema):
        return schema
    where = "data schema"
    document: Any = schema
    if not isinstance(schema, dict):
        where = str(schema)
        document = read_yaml(Path(schema))
    check_against_json_schema(document, json_schema(), where)
    return _parse(document, where)


def schema_from_config(section: dict[str, Any] | None, base: str | Path = ".") -> DataSchema | None:
    """The data schema of a `validation:` section of ci-ml.yaml (None when it has none).

    `schema` is inline; `schema_file` is read relative to `base` (the config's folder).
    """
    section = section or {}
    check_against_json_schema({"validation": section}, config_sections_schema(), "ci-ml.yaml")
    if "schema_file" in section:
        return load_schema(Path(base) / section["schema_file"])
    if "schema" in section:
        return load_schema(section["schema"])
    return None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; EnvironmentProblem if it is missing, ConfigError if malformed."""
    if not path.is_file():
        raise EnvironmentProblem(f"{path}: schema file not found")
    from ci_ml.config import safe_load_unique

    try:
        return safe_load_unique(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def check_against_json_schema(document: Any, schema: dict[str, Any], where: str) -> None:
    """ConfigError naming the key path, what was expected and what was found."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        problems = [problem_of(_deepest(e)) for e in errors[:5]]
        lines = [f"{problem.where}: {problem.message}" for problem in problems]
        raise ConfigError(f"{where} is invalid:\n  " + "\n  ".join(lines))


def _deepest(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For a rule written `x` or `{value: x, severity: s}`, the branch the user meant."""
    if not error.context:
        return error
    meant = 1 if isinstance(error.instance, dict) else 0  # the mapping form is listed second
    branch = [e for e in error.context if e.relative_schema_path[0] == meant] or error.context
    return _deepest(jsonschema.exceptions.best_match(branch))


def _parse(document: dict[str, Any], where: str) -> DataSchema:
    default = document.get("severity", "error")
    columns = {
        name: _column(name, spec or {}, default, where)
        for name, spec in document["columns"].items()
    }
    table = _rules(document.get("table", {}), default)
    return DataSchema(columns, table, document)


def _column(name: str, spec: dict[str, Any], default: str, where: str) -> ColumnSpec:
    severity = spec.get("severity", default)
    body = {k: v for k, v in spec.items() if k not in ("severity", "description")}
    rules = _rules(body, severity)
    if "regex" in rules:
        _check_regex(rules["regex"].value, f"{where}: columns.{name}.regex")
    type_name = rules["type"].value if "type" in rules else None
    if type_name in NUMERIC_TYPES and "finite" not in rules:
        rules["finite"] = Rule("finite", True, severity)
    rules.setdefault("required", Rule("required", True, severity))
    return ColumnSpec(name, type_name, rules)


def _rules(spec: dict[str, Any], severity: str) -> dict[str, Rule]:
    rules = {}
    for name, value in spec.items():
        if isinstance(value, dict) and "value" in value:
            rules[name] = Rule(name, value["value"], value.get("severity", severity))
        else:
            rules[name] = Rule(name, value, severity)
    return rules


def _check_regex(pattern: str, where: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"{where}: not a valid regular expression ({error})") from None


# ---- inference -------------------------------------------------------------------------


@dataclass
class _ColumnSurvey:
    """What one pass over a trusted file learns about one column."""

    arrow_type: pa.DataType | None = None
    rows: int = 0
    nulls: int = 0
    numeric: bool = True
    integral: bool = True
    boolean: bool = True
    low: float = math.inf
    high: float = -math.inf
    categories: set[str] | None = field(default_factory=set)
    seen: list[pa.Array] | None = field(default_factory=list)

    def update(self, array: pa.Array) -> None:
        self.arrow_type = self.arrow_type or array.type
        self.rows += len(array)
        self.nulls += array.null_count
        self._numbers(array)
        self._booleans(array)
        self._categories(array)
        self._uniqueness(array)

    def _numbers(self, array: pa.Array) -> None:
        if not self.numeric:
            return
        if pa.types.is_boolean(array.type):
            self.numeric = False
            return
        values, bad = as_numbers(array)
        finite = values[np.isfinite(values)]
        self.numeric = not bad.any()
        if finite.size:
            self.integral &= bool(np.all(finite == np.round(finite)))
            self.low = min(self.low, float(finite.min()))
            self.high = max(self.high, float(finite.max()))

    def _booleans(self, array: pa.Array) -> None:
        if self.boolean:
            self.boolean = not as_booleans(array)[2].any()

    def _categories(self, array: pa.Array) -> None:
        if self.categories is None or not is_text_type(array.type):
            self.categories = None
            return
        if pc.count_distinct(array).as_py() > MAX_CATEGORIES:
            self.categories = None
            return
        self.categories.update(pc.unique(pc.drop_null(array)).to_pylist())
        if len(self.categories) > MAX_CATEGORIES:
            self.categories = None

    def _uniqueness(self, array: pa.Array) -> None:
        if self.seen is None or pa.types.is_floating(array.type):
            self.seen = None
            return
        present = pc.drop_null(as_text(array))
        if pc.count_distinct(present).as_py() < len(present):
            self.seen = None
        else:
            self.seen.append(present)

    def type_name(self) -> str:
        arrow = self.arrow_type
        if arrow is not None and pa.types.is_boolean(arrow):
            return "bool"
        if self.numeric and self.rows > self.nulls:
            integer = arrow is None or not pa.types.is_floating(arrow)
            return "int" if self.integral and integer else "float"
        if self.boolean and self.rows > self.nulls:
            return "bool"
        return "string"

    def is_unique(self) -> bool:
        if self.seen is None or self.rows - self.nulls < 2:
            return False
        values = pa.chunked_array(self.seen, pa.string())
        return bool(pc.count_distinct(values).as_py() == len(values))


def infer_schema(data: Any) -> dict[str, Any]:
    """A schema (as a dict, ready for YAML) describing a trusted data file."""
    source = open_source(data)
    surveys = {name: _ColumnSurvey() for name in source.columns}
    for batch in source.batches():
        for name, survey in surveys.items():
            survey.update(batch.column(name))
    columns = {name: _inferred_column(survey) for name, survey in surveys.items()}
    return {"version": 1, "columns": columns, "table": {"extra_columns": "forbid"}}


def _inferred_column(survey: _ColumnSurvey) -> dict[str, Any]:
    type_name = survey.type_name()
    column: dict[str, Any] = {"type": type_name, "nullable": survey.nulls > 0}
    if type_name in NUMERIC_TYPES and math.isfinite(survey.low):
        column["min"], column["max"] = _range_with_margin(survey.low, survey.high, type_name)
    present = survey.rows - survey.nulls
    categories = survey.categories
    if type_name == "string" and categories and len(categories) * 2 <= present:
        column["allowed"] = sorted(categories)
    if type_name in ("int", "string") and survey.is_unique():
        column["unique"] = True
    return column


def _range_with_margin(low: float, high: float, type_name: str) -> tuple[float, float]:
    margin = RANGE_MARGIN * ((high - low) or abs(high) or 1.0)
    lower, upper = low - margin, high + margin
    if low >= 0:
        lower = max(lower, 0.0)  # a column that was never negative stays so
    if type_name == "int":
        return math.floor(lower), math.ceil(upper)
    return _round(lower, math.floor), _round(upper, math.ceil)


def _round(value: float, direction: Any) -> float:
    """Round outward to 3 significant digits, so the schema reads well."""
    if value == 0:
        return 0.0
    digits = 2 - math.floor(math.log10(abs(value)))
    return round(direction(value * 10**digits) / 10**digits, max(digits, 0))


def dump_schema_yaml(schema: dict[str, Any], path: str | Path | None = None) -> str:
    """The schema as YAML text, written to `path` when given."""
    header = (
        "# ci-ml data schema, inferred from a trusted file: review and edit it.\n"
        "# A rule is a value or {value: ..., severity: warn}; see docs/validation.md.\n"
    )
    text = header + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
