"""Curves from the stored predictions (predictions.parquet): no model is run again.

Pure: a predictions frame in, typed curve records out. Classification: ROC and
precision-recall per class (one-vs-rest, the most frequent few classes for
multiclass), calibration where probabilities exist, the confusion matrix.
Regression: the residual histogram and predicted vs actual.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

ROLES = ("champion", "challenger")
MAX_CLASSES = 3  # per-class curves for multiclass: the most frequent classes
MAX_MATRIX = 10  # confusion matrix classes shown
GRID = 41  # points on a curve's x grid (0, 0.025, ..., 1)
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20
MAX_POINTS = 300  # predicted-vs-actual points kept per model


@dataclass(frozen=True)
class Series:
    """One model's curve: y at each x (x on the curve's shared grid or its own)."""

    role: str
    x: list[float]
    y: list[float]
    summary: float | None = None  # AUC, average precision, ...
    counts: list[int] | None = None


@dataclass(frozen=True)
class Curve:
    kind: str  # roc, precision_recall, calibration, residuals, predicted_vs_actual
    title: str
    x_label: str
    y_label: str
    series: list[Series]
    summary_name: str | None = None


@dataclass(frozen=True)
class Confusion:
    labels: list[str]
    champion: list[list[int]] | None
    challenger: list[list[int]]
    other_classes: int = 0  # classes beyond MAX_MATRIX, left out


@dataclass(frozen=True)
class Curves:
    task: str
    rows: int
    curves: list[Curve] = field(default_factory=list)
    confusion: Confusion | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_predictions(frame: pd.DataFrame, task: str) -> Curves:
    y = frame["y_true"].to_numpy()
    roles = [r for r in ROLES if f"{r}_pred" in frame.columns]
    if task == "regression":
        return Curves(task, len(frame), _regression(frame, y, roles))
    curves: list[Curve] = []
    for label in _classes_for_curves(frame, y):
        curves += _per_class(frame, y, roles, label)
    return Curves(task, len(frame), curves, _confusion(frame, y, roles))


# -- classification ---------------------------------------------------------------------


def _classes_for_curves(frame: pd.DataFrame, y: np.ndarray) -> list[str]:
    """Binary: the positive class only; multiclass: the most frequent few."""
    labels = [c.removeprefix("challenger_proba_") for c in frame.columns]
    labels = [c for c, col in zip(labels, frame.columns, strict=True) if col != c]
    if not labels:
        return []
    if len(labels) == 2:
        return [labels[1]]
    counts = {label: int(np.sum(y.astype(str) == label)) for label in labels}
    return sorted(labels, key=lambda label: -counts[label])[:MAX_CLASSES]


def _per_class(frame: pd.DataFrame, y: np.ndarray, roles: list[str], label: str) -> list[Curve]:
    truth = y.astype(str) == label
    if truth.all() or not truth.any():
        return []  # one class only in the eval rows: no curve is defined
    scores = {
        r: frame[f"{r}_proba_{label}"].to_numpy(float) for r in roles if _has(frame, r, label)
    }
    return [
        Curve(
            "roc",
            f"ROC, class {label}",
            "false positive rate",
            "true positive rate",
            [_roc(r, truth, s) for r, s in scores.items()],
            "AUC",
        ),
        Curve(
            "precision_recall",
            f"Precision-recall, class {label}",
            "recall",
            "precision",
            [_pr(r, truth, s) for r, s in scores.items()],
            "average precision",
        ),
        Curve(
            "calibration",
            f"Calibration, class {label}",
            "mean predicted probability",
            "observed share",
            [_calibration(r, truth, s) for r, s in scores.items()],
        ),
    ]


def _has(frame: pd.DataFrame, role: str, label: str) -> bool:
    return f"{role}_proba_{label}" in frame.columns


def _grid() -> np.ndarray:
    return np.linspace(0.0, 1.0, GRID)


def _roc(role: str, truth: np.ndarray, score: np.ndarray) -> Series:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(truth, score)
    # the best true positive rate reachable at or below each false positive rate
    tpr_at = [float(tpr[fpr <= x].max()) for x in _grid()]
    return Series(role, _rounded(_grid()), _rounded(tpr_at), round(roc_auc_score(truth, score), 4))


def _pr(role: str, truth: np.ndarray, score: np.ndarray) -> Series:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, _ = precision_recall_curve(truth, score)
    # interpolated precision: the best precision at this recall or more
    at = [float(precision[recall >= x].max()) for x in _grid()]
    summary = round(float(average_precision_score(truth, score)), 4)
    return Series(role, _rounded(_grid()), _rounded(at), summary)


def _calibration(role: str, truth: np.ndarray, score: np.ndarray) -> Series:
    """Equal-width bins of the predicted probability; empty bins are left out."""
    bins = np.minimum((score * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    xs, ys, counts = [], [], []
    for index in range(CALIBRATION_BINS):
        members = bins == index
        if members.any():
            xs.append(float(score[members].mean()))
            ys.append(float(truth[members].mean()))
            counts.append(int(members.sum()))
    return Series(role, _rounded(xs), _rounded(ys), counts=counts)


def _confusion(frame: pd.DataFrame, y: np.ndarray, roles: list[str]) -> Confusion | None:
    if "challenger" not in roles:
        return None
    ordered = _by_frequency(y)
    shown = sorted(ordered[:MAX_MATRIX])
    matrices = {r: confusion_counts(y, frame[f"{r}_pred"].to_numpy(), shown) for r in roles}
    champion = matrices.get("champion")
    return Confusion(
        shown,
        None if champion is None else champion.tolist(),
        matrices["challenger"].tolist(),
        max(0, len(ordered) - MAX_MATRIX),
    )


def _by_frequency(values: np.ndarray) -> list[str]:
    """The labels' text, most frequent first (ties in text order)."""
    import pandas as pd

    codes, text = _text_codes(values)
    counts = pd.Series(np.bincount(codes, minlength=len(text)), index=text).groupby(level=0).sum()
    return [str(v) for v in counts.index[np.argsort(-counts.to_numpy(), kind="stable")]]


def confusion_counts(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> np.ndarray:
    """scikit-learn's confusion_matrix(truth, predicted, labels=labels) of the labels' text
    (str of each value): row = true label, column = predicted, rows with a label not in
    `labels` left out; one bincount (its input checks cost 50 ms at 20,000 rows)."""
    true_at, predicted_at = _positions(truth, labels), _positions(predicted, labels)
    known = (true_at >= 0) & (predicted_at >= 0)
    cells = true_at[known] * len(labels) + predicted_at[known]
    size = len(labels)
    return np.bincount(cells, minlength=size * size).reshape(size, size)


def _positions(values: np.ndarray, labels: list[str]) -> np.ndarray:
    """Each row's place in `labels` by its text, -1 where it is not there."""
    import pandas as pd

    codes, text = _text_codes(values)
    return np.asarray(pd.Index(labels).get_indexer(text))[codes]


def _text_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row a code into the distinct values' text: str() once per distinct value, not
    per row (the rows' astype(str) took 0.1 s at 200,000 rows). Only where equal values
    have equal text: integers, booleans, strings (1 == 1.0 and 0.0 == -0.0 do not)."""
    import pandas as pd

    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    if np.asarray(distinct).dtype.kind not in "iubUS" and any(type(v) is not str for v in distinct):
        codes, distinct = pd.factorize(np.asarray(values).astype(str))
    return codes, np.asarray(distinct).astype(str)


# -- regression -------------------------------------------------------------------------


def _regression(frame: pd.DataFrame, y: np.ndarray, roles: list[str]) -> list[Curve]:
    actual = y.astype(float)
    predicted = {r: frame[f"{r}_pred"].to_numpy(float) for r in roles}
    return [_residuals(actual, predicted), _predicted_vs_actual(actual, predicted)]


def _residuals(actual: np.ndarray, predicted: dict[str, np.ndarray]) -> Curve:
    """Histograms of actual - predicted on shared bins, so the two models line up."""
    residuals = {r: actual - p for r, p in predicted.items()}
    everything = np.concatenate(list(residuals.values()))
    edges = np.histogram_bin_edges(everything, bins=HISTOGRAM_BINS)
    centres = _rounded((edges[:-1] + edges[1:]) / 2)
    series = []
    for role, values in residuals.items():
        counts, _ = np.histogram(values, bins=edges)
        series.append(
            Series(
                role,
                centres,
                [float(c) for c in counts],
                _round(float(np.std(values))),
                [int(c) for c in counts],
            )
        )
    return Curve(
        "residuals",
        "Residuals (actual - predicted)",
        "residual",
        "rows",
        series,
        "standard deviation",
    )


def _predicted_vs_actual(actual: np.ndarray, predicted: dict[str, np.ndarray]) -> Curve:
    """A deterministic sample of rows (evenly spaced by actual value), the same for both."""
    order = np.argsort(actual, kind="stable")
    if len(order) > MAX_POINTS:
        order = order[np.linspace(0, len(order) - 1, MAX_POINTS).astype(int)]
    series = [
        Series(
            r,
            _rounded(actual[order]),
            _rounded(p[order]),
            _round(float(np.corrcoef(actual, p)[0, 1]) if np.std(p) > 0 else None),
        )
        for r, p in predicted.items()
    ]
    return Curve(
        "predicted_vs_actual", "Predicted vs actual", "actual", "predicted", series, "correlation"
    )


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(f"{value:.4g}")


def _rounded(values: Any) -> list[float]:
    """Six significant digits: enough to draw, small in report.json."""
    return [float(f"{float(v):.6g}") for v in values]


def from_dict(record: dict[str, Any]) -> Curves:
    """The typed records back from report.json's `curves`."""
    confusion = record.get("confusion")
    return Curves(
        record["task"],
        int(record["rows"]),
        [
            Curve(**{**c, "series": [Series(**s) for s in c["series"]]})
            for c in record.get("curves", [])
        ],
        None if confusion is None else Confusion(**confusion),
    )
