"""Train and eval rows that the model could be fitted on but not scored on.

Each finding is a failure of the validate stage (an `invalid-data` verdict naming the
column, with example rows), found before any training: a class the eval rows hold
that training never saw, a regression target that is not a finite number, a number
column that holds text or infinities. A `slice_by` column missing from the eval rows
is a config mistake (exit 2).

The checks on rows in memory live here; `engine: spark` finds the same offending rows
on the cluster (stages/cluster_checks) and words them with the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config

MAX_EXAMPLES = 5
SHOWN_CLASSES = 10


@dataclass(frozen=True)
class Offenders:
    """The rows failing a check: how many, and the first few in row order, each
    `{"row", "value"}` (and `"file"` where the rows come from a folder of files)."""

    count: int
    examples: list[dict[str, Any]]

    @classmethod
    def of(cls, bad: pd.Series) -> Offenders:
        head = bad.head(MAX_EXAMPLES).items()
        return cls(len(bad), [{"row": int(i), "value": str(v)} for i, v in head])


def train_eval_failures(config: Config, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """The failures of the rows as read (`frames` by role: train, eval), in column order."""
    train = frames.get("train")
    if train is None or config.data.target not in train.columns:
        return []
    check_slice_columns(config, list(frames.get("eval", train).columns))
    numeric = numeric_columns(config, list(train.columns), _numbers(train))
    out: list[dict[str, Any]] = []
    for role, frame in frames.items():
        if config.data.target not in frame.columns:
            continue
        source = _name(config, role)
        for column in (c for c in numeric if c in frame.columns):
            bad = not_finite(frame[column])
            if len(bad):
                out.append(number_failure(config, column, Offenders.of(bad), source))
        if role == "eval" and config.task == "classification":
            out.extend(_unseen_classes(config, train, frame, source))
    return out


def check_slice_columns(config: Config, columns: list[str]) -> None:
    """`evaluation.slice_by` must name columns of the eval rows (exit 2)."""
    missing = [c for c in config.evaluation.slice_by if c not in columns]
    if missing:
        shown = ", ".join(map(repr, columns[:20]))
        raise ConfigError(
            f"evaluation.slice_by: column(s) {', '.join(map(repr, missing))} not found in "
            f"the eval rows; the data has: {shown}"
        )


def _name(config: Config, role: str) -> str:
    path = config.data.train if role == "train" else config.data.eval
    return path.name if path is not None else role


def _numbers(train: pd.DataFrame) -> set[str]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return {c for c in train.columns if is_numeric_dtype(train[c]) and not is_bool_dtype(train[c])}


def numeric_columns(config: Config, columns: list[str], numbers: Iterable[str]) -> list[str]:
    """The columns that must hold finite numbers: the features that are numbers in the
    training rows (`numbers`: those of `columns` with a number type), and a regression
    target."""
    target, typed = config.data.target, set(numbers)
    features = config.data.features or [c for c in columns if c not in config.data.drop]
    numeric = [c for c in features if c != target and c in columns and c in typed]
    return [target, *numeric] if config.task == "regression" else numeric


def not_finite(values: pd.Series) -> pd.Series:
    """The values that are there but are not finite numbers (text, infinities)."""
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    return values[values.notna() & ~(numbers.notna() & np.isfinite(numbers))]


def number_failure(config: Config, column: str, bad: Offenders, source: str) -> dict[str, Any]:
    role = "the regression target" if column == config.data.target else "a number column"
    found = f"{bad.count} value(s) that are not finite numbers"
    return _failure(
        "type",
        column,
        f"{source}: column {column!r} ({role} in training) fails type: expected finite "
        f"numbers, found {found}",
        bad,
        expected="finite numbers",
        found=found,
    )


def _unseen_classes(
    config: Config, train: pd.DataFrame, frame: pd.DataFrame, source: str
) -> list[dict[str, Any]]:
    target = config.data.target
    known = set(train[target].dropna().tolist())
    unseen = frame[target][frame[target].notna() & ~frame[target].isin(known)]
    if unseen.empty:
        return []
    classes = {str(v) for v in unseen}
    return [unseen_failure(config, classes, Offenders.of(unseen), source)]


def unseen_failure(
    config: Config, classes: Iterable[str], bad: Offenders, source: str, note: str = ""
) -> dict[str, Any]:
    """Eval rows of classes the training rows never have (`classes`: as text)."""
    target, shown = config.data.target, sorted(classes)[:SHOWN_CLASSES]
    found = f"{bad.count} row(s) of class(es) {', '.join(map(repr, shown))}{note}"
    message = (
        f"{source}: target {target!r} holds class(es) the training rows never have, so no "
        f"model trained on them can predict it: {found}"
    )
    expected = "classes seen in training"
    return _failure("classes", target, message, bad, expected=expected, found=found)


def _failure(rule: str, column: str, message: str, bad: Offenders, **fields: str) -> dict[str, Any]:
    shown = ", ".join(f"{where(e)}: {e['value']!r}" for e in bad.examples[:3])
    return {
        "severity": "error",
        "rule": rule,
        "column": column,
        "message": f"{message} ({shown})",
        "failing_rows": bad.count,
        "examples": bad.examples,
        **fields,
    }


def where(example: dict[str, Any]) -> str:
    """`row 3`, or `row 3 of part-0.parquet` where the data is many files."""
    row, file = example["row"], example.get("file")
    if file is None:
        return f"row {row}"
    return file if row is None else f"row {row} of {file}"
