"""Metric names as users see them: scikit-learn scorers, losses shown as losses.

Every scorer is "higher is better"; a loss is a scorer named ``neg_*``. Stored
values keep the scorer's sign; people see the loss (sign flipped) and are told
that lower is better.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from ci_ml.errors import ConfigError


@dataclass(frozen=True)
class MetricName:
    scorer: str

    @property
    def is_loss(self) -> bool:
        return self.scorer.startswith("neg_")

    @property
    def display(self) -> str:
        return self.scorer.removeprefix("neg_")

    def shown(self, value: float | None) -> float | None:
        """A scorer value in the units people read (the loss itself for neg_*)."""
        if value is None or _is_nan(value):
            return None
        return -value if self.is_loss else value

    def improvement(self, delta: float | None) -> float | None:
        """Scorer deltas are already "higher is better"; this names it for rules."""
        return None if delta is None or _is_nan(delta) else delta


def _is_nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


def check_metric_names(names: tuple[str, ...]) -> None:
    from sklearn.metrics import get_scorer_names

    known = set(get_scorer_names())
    for index, name in enumerate(names):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"metrics[{index}]: unknown scikit-learn scorer {name!r}{hint}")


def resolve_rule_metric(name: str, metrics: tuple[str, ...], where: str) -> str:
    """A rule may name a metric by scorer name or by its displayed loss name."""
    for scorer in metrics:
        if name in {scorer, MetricName(scorer).display}:
            return scorer
    raise ConfigError(
        f"{where}: metric {name!r} is not among metrics ({', '.join(metrics)}); "
        "add it to `metrics:` so it is computed"
    )


def response_methods(scorer_name: str) -> tuple[str, ...]:
    """The prediction methods a scorer can use, in sklearn's order of preference."""
    from sklearn.metrics import get_scorer

    method: Any = getattr(get_scorer(scorer_name), "_response_method", "predict")
    return (method,) if isinstance(method, str) else tuple(method)


def check_estimator_supports(estimator: Any, metrics: tuple[str, ...], label: str) -> None:
    for index, name in enumerate(metrics):
        methods = response_methods(name)
        if not any(hasattr(estimator, method) for method in methods):
            raise ConfigError(
                f"metrics[{index}]: {name!r} needs {' or '.join(methods)}, which {label} "
                "does not provide (for SVC set model.params.probability: true, or pick "
                "another metric)"
            )
