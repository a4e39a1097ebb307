"""Train and eval rows that the model could be fitted on but not scored on.

Each finding is a failure of the validate stage (an `invalid-data` verdict naming the
column, with example rows), found before any training: a class the eval rows hold
that training never saw, a regression target that is not a finite number, a number
column that holds text or infinities. A `slice_by` column missing from the eval rows
is a config mistake (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config


def train_eval_failures(config: Config, frames: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """The failures of the rows as read (`frames` by role: train, eval), in column order."""
    train = frames.get("train")
    if train is None or config.data.target not in train.columns:
        return []
    _check_slices(config, frames.get("eval", train))
    out: list[dict[str, Any]] = []
    for role, frame in frames.items():
        if config.data.target not in frame.columns:
            continue
        source = _name(config, role)
        out.extend(_number_failures(config, train, frame, source))
        if role == "eval" and config.task == "classification":
            out.extend(_unseen_classes(config, train, frame, source))
    return out


def _check_slices(config: Config, frame: pd.DataFrame) -> None:
    missing = [c for c in config.evaluation.slice_by if c not in frame.columns]
    if missing:
        shown = ", ".join(map(repr, list(frame.columns)[:20]))
        raise ConfigError(
            f"evaluation.slice_by: column(s) {', '.join(map(repr, missing))} not found in "
            f"the eval rows; the data has: {shown}"
        )


def _name(config: Config, role: str) -> str:
    path = config.data.train if role == "train" else config.data.eval
    return path.name if path is not None else role


def _number_failures(
    config: Config, train: pd.DataFrame, frame: pd.DataFrame, source: str
) -> list[dict[str, Any]]:
    """Columns numeric in training (and a regression target) must hold finite numbers."""
    out = []
    for column in _numeric_columns(config, train):
        if column in frame.columns:
            bad = _not_finite(frame[column])
            if len(bad):
                out.append(_type_failure(config, column, bad, source))
    return out


def _numeric_columns(config: Config, train: pd.DataFrame) -> list[str]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    target = config.data.target
    features = config.data.features or [c for c in train.columns if c not in config.data.drop]
    numeric = [
        c
        for c in features
        if c != target and c in train.columns
        if is_numeric_dtype(train[c]) and not is_bool_dtype(train[c])
    ]
    return [target, *numeric] if config.task == "regression" else numeric


def _not_finite(values: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    return values[values.notna() & ~(numbers.notna() & np.isfinite(numbers))]


def _type_failure(config: Config, column: str, bad: pd.Series, source: str) -> dict[str, Any]:
    role = "the regression target" if column == config.data.target else "a number column"
    found = f"{len(bad)} value(s) that are not finite numbers"
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
    classes = sorted({str(v) for v in unseen})
    found = f"{len(unseen)} row(s) of class(es) {', '.join(map(repr, classes[:10]))}"
    message = (
        f"{source}: target {target!r} holds class(es) the training rows never have, so no "
        f"model trained on them can predict it: {found}"
    )
    expected = "classes seen in training"
    return [_failure("classes", target, message, unseen, expected=expected, found=found)]


def _failure(rule: str, column: str, message: str, bad: pd.Series, **fields: str) -> dict[str, Any]:
    examples = [{"row": int(i), "value": str(v)} for i, v in bad.head(5).items()]
    shown = ", ".join(f"row {e['row']}: {e['value']!r}" for e in examples[:3])
    return {
        "severity": "error",
        "rule": rule,
        "column": column,
        "message": f"{message} ({shown})",
        "failing_rows": len(bad),
        "examples": examples,
        **fields,
    }
