"""Metric names as users see them: scikit-learn scorers, losses shown as losses.

Every scorer is "higher is better"; a loss is a scorer named ``neg_*`` (or a
custom metric with ``greater_is_better: false``). Stored values keep the
scorer's sign; people see the loss (sign flipped) and are told lower is better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.comparison import Metric


@dataclass(frozen=True)
class MetricName:
    scorer: str
    display: str
    is_loss: bool

    @classmethod
    def of(cls, scorer: str, entry: dict[str, Any] | None = None) -> MetricName:
        """From a metrics.json entry when it says, else from the scorer's name."""
        if entry and "display_name" in entry:
            return cls(scorer, entry["display_name"], bool(entry.get("lower_is_better")))
        return cls(scorer, scorer.removeprefix("neg_"), scorer.startswith("neg_"))

    def shown(self, value: float | None) -> float | None:
        """A scorer value in the units people read (the loss itself for a loss)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return -value if self.is_loss else value


def resolve_metrics(
    config_metrics: tuple[str, ...], custom: dict[str, dict[str, Any]]
) -> list[Metric]:
    """The configured metrics as scorers; an unknown one is a config error naming it."""
    from ci_ml.comparison import resolve_metric

    resolved = []
    for index, name in enumerate(config_metrics):
        spec = custom.get(name)
        try:
            if spec is None:
                resolved.append(resolve_metric(name))
            else:
                resolved.append(
                    resolve_metric(
                        name,
                        greater_is_better=bool(spec["greater_is_better"]),
                        response_method=spec.get("response", "predict"),
                    )
                )
        except ValueError as exc:
            raise ConfigError(f"metrics[{index}]: {exc}") from exc
    return resolved


def resolve_rule_metric(name: str, metrics: tuple[str, ...], where: str) -> str:
    """A rule may name a metric by scorer name or by its displayed loss name."""
    for scorer in metrics:
        if name in {scorer, MetricName.of(scorer).display}:
            return scorer
    raise ConfigError(
        f"{where}: metric {name!r} is not among metrics ({', '.join(metrics)}); "
        "add it to `metrics:` so it is computed"
    )


def check_estimator_supports(estimator: Any, metrics: list[Metric], label: str) -> None:
    for index, metric in enumerate(metrics):
        methods = metric.preferred_methods()
        if not any(hasattr(estimator, method) for method in methods):
            raise ConfigError(
                f"metrics[{index}]: {metric.name!r} needs {' or '.join(methods)}, which {label} "
                "does not provide (for SVC set model.params.probability: true, or pick "
                "another metric)"
            )
