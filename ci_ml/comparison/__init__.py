"""Statistics behind a trustworthy gate.

Metrics are scikit-learn scorers (or `module:function` metrics) computed from
stored predictions; the paired bootstrap compares challenger and champion on
the same resampled rows; `significance` holds the one-sided tests (bootstrap
and exact), the one multiple-testing `adjust()` (Holm, Bonferroni,
Benjamini-Hochberg) used by the gate and by drift, power and min_rows; slices
give per-group values. Every result is a frozen dataclass with `to_dict()`.

The significance names import without scikit-learn (drift uses them); the
bootstrap, metric and slice names load scikit-learn on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ci_ml.comparison.significance import (
    BENJAMINI_HOCHBERG,
    BONFERRONI,
    HEAVY_TAIL_INDEX,
    HOLM,
    METHODS,
    NO_ADJUSTMENT,
    STUDENTIZED,
    SYMMETRIC_STUDENTIZED,
    TAIL_EXTRAPOLATED,
    Adjustment,
    Claim,
    McNemarResult,
    RowsCheck,
    adjust,
    adjusted_p_values,
    benjamini_hochberg,
    bonferroni,
    bootstrap_p_value,
    check_min_rows,
    detectable_change,
    discordant_share_bounds,
    exact_accuracy_bound,
    exact_accuracy_p,
    exact_change_bound,
    exact_change_interval,
    exact_change_p,
    exact_floor,
    holm,
    hull,
    mcnemar_counts,
    mcnemar_exact,
    one_sided_bound,
    rows_needed,
)

if TYPE_CHECKING:
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
    from ci_ml.comparison.slices import SliceResult, slice_metrics
    from ci_ml.comparison.studentized import tail_threshold

_LAZY = {
    "BootstrapResult": "bootstrap",
    "Interval": "bootstrap",
    "paired_bootstrap": "bootstrap",
    "paired_bootstrap_values": "bootstrap",
    "resample_indices": "bootstrap",
    "Metric": "metrics",
    "Predictions": "metrics",
    "collect_predictions": "metrics",
    "resolve_metric": "metrics",
    "score": "metrics",
    "SliceResult": "slices",
    "slice_metrics": "slices",
    "tail_threshold": "studentized",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ci_ml.comparison' has no attribute {name!r}")
    module = importlib.import_module(f"ci_ml.comparison.{_LAZY[name]}")
    return getattr(module, name)


__all__ = [
    "BENJAMINI_HOCHBERG",
    "BONFERRONI",
    "HEAVY_TAIL_INDEX",
    "HOLM",
    "METHODS",
    "NO_ADJUSTMENT",
    "STUDENTIZED",
    "SYMMETRIC_STUDENTIZED",
    "TAIL_EXTRAPOLATED",
    "Adjustment",
    "BootstrapResult",
    "Claim",
    "Interval",
    "McNemarResult",
    "Metric",
    "Predictions",
    "RowsCheck",
    "SliceResult",
    "adjust",
    "adjusted_p_values",
    "benjamini_hochberg",
    "bonferroni",
    "bootstrap_p_value",
    "check_min_rows",
    "collect_predictions",
    "detectable_change",
    "discordant_share_bounds",
    "exact_accuracy_bound",
    "exact_accuracy_p",
    "exact_change_bound",
    "exact_change_interval",
    "exact_change_p",
    "exact_floor",
    "holm",
    "hull",
    "mcnemar_counts",
    "mcnemar_exact",
    "one_sided_bound",
    "paired_bootstrap",
    "paired_bootstrap_values",
    "resample_indices",
    "resolve_metric",
    "rows_needed",
    "score",
    "slice_metrics",
    "tail_threshold",
]
