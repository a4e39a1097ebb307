"""Statistics behind a trustworthy gate.

Metrics are scikit-learn scorers (or `module:function` metrics) computed from
stored predictions; the paired bootstrap compares challenger and champion on
the same resampled rows; significance helpers (McNemar, Holm, Bonferroni,
min_rows) and per-slice values feed the gate and the report. Every result is a
frozen dataclass with a JSON-ready `to_dict()`.
"""

from __future__ import annotations

from ci_ml.comparison.bootstrap import (
    BootstrapResult,
    Interval,
    paired_bootstrap,
    paired_bootstrap_values,
    resample_indices,
)
from ci_ml.comparison.metrics import (
    Metric,
    Predictions,
    collect_predictions,
    resolve_metric,
    score,
)
from ci_ml.comparison.significance import (
    Adjustment,
    McNemarResult,
    RowsCheck,
    adjust,
    bonferroni,
    bonferroni_confidence,
    check_min_rows,
    holm,
    mcnemar_exact,
)
from ci_ml.comparison.slices import SliceResult, slice_metrics

__all__ = [
    "Adjustment",
    "BootstrapResult",
    "Interval",
    "McNemarResult",
    "Metric",
    "Predictions",
    "RowsCheck",
    "SliceResult",
    "adjust",
    "bonferroni",
    "bonferroni_confidence",
    "check_min_rows",
    "collect_predictions",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_bootstrap_values",
    "resample_indices",
    "resolve_metric",
    "score",
    "slice_metrics",
]
