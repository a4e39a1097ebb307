"""Check a data file against a data schema, lazily: every failure is collected.

Each failure names the column, the rule, what was expected, what was found, how
many rows fail, and a few example rows (0-based data row index, header excluded,
as pandas numbers them) with their values. Rules are evaluated per record batch
with vectorised Arrow/numpy operations, so memory stays bounded and no Python
loop runs per row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ci_ml.errors import ConfigError, DataError
from ci_ml.validation.scan import (
    as_booleans,
    as_numbers,
    as_text,
    mask_of,
    open_source,
    refuse_nested,
    value_repr,
)
from ci_ml.validation.schema import NUMERIC_TYPES, ColumnSpec, DataSchema, Rule, load_schema

MAX_EXAMPLES = 5
TABLE = None  # the `column` of a failure that concerns the whole table


@dataclass
class RuleFailure:
    """One rule that some rows (or the table) do not satisfy."""

    column: str | None
    rule: str
    severity: str
    expected: str
    found: str
    failing_rows: int
    # (row, value), or (row, value, file) where the data is many files (row: None
    # where the reader numbers no rows, as Spark's CSV reader)
    examples: list[tuple[Any, ...]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["examples"] = [_example(*example) for example in self.examples]
        return record


def _example(row: int | None, value: Any, file: str | None = None) -> dict[str, Any]:
    return {"row": row, "value": value} | ({"file": file} if file is not None else {})


@dataclass
class ValidationResult:
    """All failures of one data file against one schema."""

    source: str
    rows: int
    columns: list[str]
    failures: list[RuleFailure]

    @property
    def errors(self) -> list[RuleFailure]:
        return [f for f in self.failures if f.severity == "error"]

    @property
    def warnings(self) -> list[RuleFailure]:
        return [f for f in self.failures if f.severity == "warn"]

    @property
    def passed(self) -> bool:
        """False when any failure has severity `error` (the run exits 1)."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "passed": self.passed,
            "rows": self.rows,
            "columns": len(self.columns),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "failures": [f.to_dict() for f in self.failures],
        }


@dataclass
class Tally:
    """Failing rows of one rule, accumulated batch by batch."""

    rule: Rule
    count: int = 0
    examples: list[tuple[Any, ...]] = field(default_factory=list)
    low: float = np.inf
    high: float = -np.inf
    distinct: list[Any] = field(default_factory=list)

    def add(self, failing: np.ndarray, array: Any, offset: int) -> None:
        hits = int(np.count_nonzero(failing))
        if not hits:
            return
        self.count += hits
        if len(self.examples) < MAX_EXAMPLES:
            rows = np.flatnonzero(failing)[: MAX_EXAMPLES - len(self.examples)]
            self.examples += [(offset + int(r), value_repr(array, int(r))) for r in rows]

    def distinct_values(self, array: Any, failing: np.ndarray) -> None:
        """Remember a few distinct failing values (for allowed-values failures)."""
        if failing.any() and len(self.distinct) < MAX_EXAMPLES:
            if isinstance(array, np.ndarray):
                unique = [_plain(v) for v in np.unique(array[failing])[:MAX_EXAMPLES].tolist()]
            else:
                unique = pc.unique(as_text(array).filter(pa.array(failing))).to_pylist()
            self.distinct += [v for v in unique if v not in self.distinct]
            self.distinct = self.distinct[:MAX_EXAMPLES]

    def extremes(self, values: np.ndarray, failing: np.ndarray) -> None:
        if failing.any():
            self.low = min(self.low, float(values[failing].min()))
            self.high = max(self.high, float(values[failing].max()))


class ColumnCheck:
    """All rules of one column, fed one batch at a time."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.kind = spec.type or ("float" if {"min", "max"} & set(spec.rules) else "string")
        self.tallies = {name: Tally(rule) for name, rule in spec.rules.items()}
        self.rows = 0
        self.nulls = 0
        self.unique_values: list[Any] = []
        self.unique_rows: list[np.ndarray] = []

    def update(self, array: pa.Array, offset: int) -> None:
        refuse_nested(array, self.spec.name)
        self.rows += len(array)
        if self.kind in NUMERIC_TYPES:
            self._numbers(array, offset)
        elif self.kind == "bool":
            self._booleans(array, offset)
        else:
            self._text(array, offset)

    def _add(self, rule: str, failing: np.ndarray, array: Any, offset: int) -> None:
        """Count a rule's failing rows; `array` (Arrow or numpy) supplies example values."""
        if rule in self.tallies and _enabled(self.tallies[rule].rule):
            self.tallies[rule].add(failing, array, offset)
            if rule == "allowed":
                self.tallies[rule].distinct_values(array, failing)

    def _numbers(self, array: pa.Array, offset: int) -> None:
        values, bad = as_numbers(array)
        if self.kind == "int":
            finite = np.isfinite(values)
            bad |= finite & (values != np.round(values))
        nulls = np.isnan(values) & ~bad
        self._common(array, offset, nulls, bad)
        # Examples show the parsed number from here on (the text only for type failures).
        self._add("finite", np.isinf(values), values, offset)
        self._bounds(values, offset)
        if "allowed" in self.tallies:
            allowed = np.asarray(self.spec.rules["allowed"].value, dtype=float)
            self._add("allowed", ~np.isnan(values) & ~np.isin(values, allowed), values, offset)
        if "unique" in self.tallies:
            self._keep_for_uniqueness(values[~np.isnan(values)], ~np.isnan(values), offset)

    def _bounds(self, values: np.ndarray, offset: int) -> None:
        with np.errstate(invalid="ignore"):
            for rule, failing in (
                ("min", values < _number(self.spec.rules.get("min"))),
                ("max", values > _number(self.spec.rules.get("max"))),
            ):
                if rule in self.tallies:
                    self._add(rule, failing, values, offset)
                    self.tallies[rule].extremes(values, failing)

    def _booleans(self, array: pa.Array, offset: int) -> None:
        values, nulls, bad = as_booleans(array)
        self._common(array, offset, nulls, bad)
        if "allowed" in self.tallies:
            allowed = [bool(v) for v in self.spec.rules["allowed"].value]
            self._add("allowed", ~nulls & ~bad & ~np.isin(values, allowed), array, offset)

    def _text(self, array: pa.Array, offset: int) -> None:
        text = as_text(array)
        nulls = _mask(pc.is_null(text))
        self._common(array, offset, nulls, np.zeros(len(array), bool))
        if "allowed" in self.tallies:
            allowed = pa.array([str(v) for v in self.spec.rules["allowed"].value], pa.string())
            self._add("allowed", ~nulls & ~_mask(pc.is_in(text, value_set=allowed)), array, offset)
        if "regex" in self.tallies:
            self._add("regex", ~nulls & ~_mask(self._matches(text)), array, offset)
        if "unique" in self.tallies:
            self._keep_for_uniqueness(pc.drop_null(text), ~nulls, offset)

    def _matches(self, text: pa.Array) -> pa.Array:
        pattern = self.spec.rules["regex"].value
        try:
            return pc.fill_null(pc.match_substring_regex(text, pattern), True)
        except pa.ArrowInvalid as error:  # valid in Python but not in RE2 (e.g. lookahead)
            raise ConfigError(f"columns.{self.spec.name}.regex {pattern!r}: {error}") from None

    def _common(self, array: pa.Array, offset: int, nulls: np.ndarray, bad: np.ndarray) -> None:
        self.nulls += int(np.count_nonzero(nulls))
        self._add("type", bad, array, offset)
        self._add("nullable", nulls, array, offset)

    def _keep_for_uniqueness(self, values: Any, present: np.ndarray, offset: int) -> None:
        self.unique_values.append(values)
        self.unique_rows.append(np.flatnonzero(present) + offset)

    def failures(self) -> list[RuleFailure]:
        found = [self._failure(name, tally) for name, tally in self.tallies.items()]
        return [f for f in [*found, self._null_fraction(), self._uniqueness()] if f]

    def _failure(self, name: str, tally: Tally) -> RuleFailure | None:
        rule = tally.rule
        if not tally.count or name in ("max_null_fraction", "unique"):
            return None
        expected, found = _describe(name, rule.value, tally, self.rows)
        return RuleFailure(
            self.spec.name, name, rule.severity, expected, found, tally.count, tally.examples
        )

    def _null_fraction(self) -> RuleFailure | None:
        rule = self.spec.rules.get("max_null_fraction")
        fraction = self.nulls / self.rows if self.rows else 0.0
        if rule is None or fraction <= rule.value:
            return None
        return RuleFailure(
            self.spec.name,
            rule.name,
            rule.severity,
            f"<= {rule.value:.2%} null",
            f"{fraction:.2%} null",
            self.nulls,
        )

    def _uniqueness(self) -> RuleFailure | None:
        rule = self.spec.rules.get("unique")
        if rule is None or not rule.value or not self.unique_values:
            return None
        duplicated, values = _duplicated(self.unique_values)
        if not duplicated.any():
            return None
        rows = np.concatenate(self.unique_rows)[duplicated]
        examples = [(int(r), v) for r, v in zip(rows[:MAX_EXAMPLES], values, strict=False)]
        return unique_failure(self.spec.name, rule, int(duplicated.sum()), examples)


def unique_failure(
    column: str, rule: Rule, failing_rows: int, examples: list[tuple[Any, ...]]
) -> RuleFailure:
    """`unique` failed: `failing_rows` hold a repeated value; the first few, as examples."""
    shown = [(row, _plain(value), *where) for row, value, *where in examples]
    distinct = len({value for _, value, *_ in shown})
    return RuleFailure(
        column,
        "unique",
        rule.severity,
        "unique values",
        f"{distinct}+ values repeated",
        failing_rows,
        shown,
    )


def _duplicated(chunks: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Mask of values that occur more than once, and the first few such values."""
    if isinstance(chunks[0], np.ndarray):
        values = np.concatenate(chunks)
        _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
        mask = counts[inverse] > 1
        return mask, values[mask][:MAX_EXAMPLES].tolist()
    text = pa.chunked_array(chunks, pa.string())
    counts = pc.value_counts(text)
    repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    mask = _mask(pc.is_in(text, value_set=repeated))
    return mask, text.filter(pa.array(mask)).slice(0, MAX_EXAMPLES).to_pylist()


def _describe(name: str, value: Any, tally: Tally, rows: int) -> tuple[str, str]:
    example = tally.examples[0][1] if tally.examples else None
    if name == "type":
        return value, f"{tally.count} values that are not {value}, e.g. {example!r}"
    if name == "nullable":
        return "no nulls", f"{tally.count} nulls ({tally.count / rows:.2%})"
    if name == "finite":
        return "finite numbers", f"{tally.count} infinite values, e.g. {example}"
    if name == "min":
        return f">= {value}", f"min {_plain(tally.low)}"
    if name == "max":
        return f"<= {value}", f"max {_plain(tally.high)}"
    if name == "allowed":
        shown = ", ".join(repr(v) for v in value[:10]) + (", ..." if len(value) > 10 else "")
        return f"one of {shown}", ", ".join(repr(v) for v in tally.distinct)
    if name == "regex":
        return f"matches {value!r}", f"{example!r}"
    return str(value), f"{tally.count} rows"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def _number(rule: Rule | None) -> float:
    return np.nan if rule is None else float(rule.value)


def _enabled(rule: Rule) -> bool:
    """`nullable: true`, `finite: false` or `unique: false` switch their check off."""
    if rule.name == "nullable":
        return rule.value is False
    return rule.value is not False


def _mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return mask_of(array)


# ---- the table ------------------------------------------------------------------------


def validate_table(data: Any, schema: DataSchema | dict[str, Any] | str | Path) -> ValidationResult:
    """Check a CSV/Parquet file (or a DataFrame) against a data schema, collecting every failure.

    An unreadable file (empty, header only, ragged rows, duplicated column names,
    corrupt Parquet) gives a result with one `file` failure; a missing file raises
    EnvironmentProblem and a bad schema ConfigError.
    """
    spec = load_schema(schema)
    try:
        return _validate(open_source(data), spec)
    except DataError as error:
        failure = RuleFailure(TABLE, "file", "error", "a readable data file", error.message, 0)
        return ValidationResult(str(data), 0, [], [failure])


def _validate(source: Any, spec: DataSchema) -> ValidationResult:
    present = [name for name in spec.columns if name in source.columns]
    checks = [ColumnCheck(spec.columns[name]) for name in present]
    duplicates = _RowHashes() if forbids_duplicates(spec) else None
    rows = 0
    for batch in source.batches():
        for check in checks:
            check.update(batch.column(check.spec.name), rows)
        if duplicates is not None:
            duplicates.update(batch, rows)
        rows += batch.num_rows
    found = [f for check in checks for f in check.failures()]
    repeated = [] if duplicates is None else duplicates.failures(spec.table["duplicate_rows"])
    return assemble(spec, str(source.path), rows, source.columns, found, repeated)


def assemble(
    spec: DataSchema,
    source: str,
    rows: int,
    columns: list[str],
    column_failures: list[RuleFailure],
    duplicate_failures: list[RuleFailure],
) -> ValidationResult:
    """The result in report order: presence, each column's rules, row count, duplicates.
    The engines compute the column and duplicate failures; the table's rules are here."""
    failures = _missing_columns(spec, columns, rows)
    failures += _extra_columns(spec, columns, rows)
    failures += column_failures
    failures += _row_count(spec, rows)
    failures += duplicate_failures
    return ValidationResult(source, rows, columns, failures)


def forbids_duplicates(spec: DataSchema) -> bool:
    return _forbids(spec.table.get("duplicate_rows"))


def _forbids(rule: Rule | None) -> bool:
    return rule is not None and rule.value == "forbid"


def _missing_columns(spec: DataSchema, columns: list[str], rows: int) -> list[RuleFailure]:
    failures = []
    for name, column in spec.columns.items():
        rule = column.rules["required"]
        if name not in columns and rule.value:
            failures.append(
                RuleFailure(
                    name, "required", rule.severity, "column present", "column missing", rows
                )
            )
    return failures


def _extra_columns(spec: DataSchema, columns: list[str], rows: int) -> list[RuleFailure]:
    rule = spec.table.get("extra_columns")
    extra = [c for c in columns if c not in spec.columns]
    if not _forbids(rule) or not extra:
        return []
    assert rule is not None
    return [
        RuleFailure(
            TABLE,
            "extra_columns",
            rule.severity,
            "only the schema's columns",
            f"unexpected columns {extra}",
            rows,
        )
    ]


def _row_count(spec: DataSchema, rows: int) -> list[RuleFailure]:
    failures = []
    low, high = spec.table.get("min_rows"), spec.table.get("max_rows")
    if low is not None and rows < low.value:
        failures.append(
            RuleFailure(
                TABLE, "min_rows", low.severity, f">= {low.value} rows", f"{rows} rows", rows
            )
        )
    if high is not None and rows > high.value:
        failures.append(
            RuleFailure(
                TABLE, "max_rows", high.severity, f"<= {high.value} rows", f"{rows} rows", rows
            )
        )
    return failures


class _RowHashes:
    """A 64-bit hash of every row, to find duplicated rows at the end of the scan."""

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []

    def update(self, batch: pa.RecordBatch, offset: int) -> None:
        import pandas as pd  # only this optional rule needs pandas

        frame = batch.to_pandas()
        self.hashes.append(pd.util.hash_pandas_object(frame, index=False).to_numpy())

    def failures(self, rule: Rule) -> list[RuleFailure]:
        hashes = np.concatenate(self.hashes)
        _, first = np.unique(hashes, return_index=True)
        repeated = np.ones(len(hashes), bool)
        repeated[first] = False
        count = int(repeated.sum())
        rows = [(int(r),) for r in np.flatnonzero(repeated)[:MAX_EXAMPLES]]
        return duplicate_rows_failures(rule, count, rows)


def duplicate_rows_failures(
    rule: Rule, count: int, rows: list[tuple[Any, ...]]
) -> list[RuleFailure]:
    """`duplicate_rows: forbid` failed when `count` rows repeat an earlier row; `rows`:
    the first few, as (row,) or (row, file)."""
    if not count:
        return []
    examples = [(row[0], "duplicate of an earlier row", *row[1:]) for row in rows]
    return [
        RuleFailure(
            TABLE,
            "duplicate_rows",
            rule.severity,
            "no duplicated rows",
            f"{count} rows repeat an earlier row",
            count,
            examples,
        )
    ]
