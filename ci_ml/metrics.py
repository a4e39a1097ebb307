"""Metric names as users see them: scikit-learn scorers, losses shown as losses.

Every scorer is "higher is better"; a loss is a scorer named ``neg_*`` (or a
custom metric with ``greater_is_better: false``). Stored values keep the
scorer's sign; people see the loss (sign flipped) and are told lower is better.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.comparison import Metric
    from ci_ml.config import Config

# where scikit-learn keeps the score functions of each task
_TASK_MODULES = {
    "classification": ("sklearn.metrics._classification", "sklearn.metrics._ranking"),
    "regression": ("sklearn.metrics._regression",),
}


@dataclass(frozen=True)
class MetricSpec:
    """What checking a config needs of a metric: its task (None: either, as clustering
    scores and custom metrics) and the responses it asks for, first available first."""

    name: str
    task: str | None
    response_method: tuple[str, ...]

    def preferred_methods(self) -> tuple[str, ...]:
        return self.response_method


def _group(task: str | None, methods: tuple[str, ...], names: str) -> dict[str, MetricSpec]:
    return {name: MetricSpec(name, task, methods) for name in names.split()}


_LABELS, _PROBA, _SCORES = ("predict",), ("predict_proba",), ("decision_function", "predict_proba")
_AVERAGED = " ".join(
    f"{m} {m}_macro {m}_micro {m}_samples {m}_weighted" for m in ("f1", "precision", "recall")
)
# scikit-learn's scorers, known without importing sklearn.metrics (1.7-2.6 s at start-up);
# tests/test_metrics_table.py holds each entry against sklearn's own scorer. A name not
# here (a newer scorer, a custom metric) is resolved by scikit-learn itself.
KNOWN_SCORERS = {
    **_group(
        "classification",
        _LABELS,
        f"accuracy balanced_accuracy matthews_corrcoef jaccard jaccard_macro jaccard_micro "
        f"jaccard_samples jaccard_weighted {_AVERAGED}",
    ),
    **_group(
        "classification",
        _PROBA,
        "d2_brier_score d2_log_loss_score neg_brier_score neg_log_loss roc_auc_ovo "
        "roc_auc_ovo_weighted roc_auc_ovr roc_auc_ovr_weighted",
    ),
    **_group("classification", _SCORES, "average_precision roc_auc top_k_accuracy"),
    **_group(
        "regression",
        _LABELS,
        "d2_absolute_error_score explained_variance neg_max_error neg_mean_absolute_error "
        "neg_mean_absolute_percentage_error neg_mean_gamma_deviance neg_mean_poisson_deviance "
        "neg_mean_squared_error neg_mean_squared_log_error neg_median_absolute_error "
        "neg_root_mean_squared_error neg_root_mean_squared_log_error r2",
    ),
    **_group(
        None,
        _LABELS,
        "adjusted_mutual_info_score adjusted_rand_score completeness_score "
        "fowlkes_mallows_score homogeneity_score mutual_info_score "
        "normalized_mutual_info_score rand_score v_measure_score "
        "neg_negative_likelihood_ratio positive_likelihood_ratio",
    ),
}


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


def config_metrics(config: Config) -> list[Metric]:
    """The configured metrics, checked against the task, with `data.pos_label` applied."""
    metrics = resolve_metrics(config.metrics, config.custom_metrics)
    _check_task([spec_of(m) for m in metrics], config.task)
    label = config.data.pos_label
    return metrics if label is None else [_with_pos_label(m, label) for m in metrics]


def metric_specs(config: Config) -> list[MetricSpec]:
    """The configured metrics checked against the task, as `config_metrics` checks them,
    without importing scikit-learn's metrics when every name is a known scorer."""
    known = [KNOWN_SCORERS.get(n) for n in config.metrics if n not in config.custom_metrics]
    if len(known) < len(config.metrics) or None in known:
        return [spec_of(m) for m in config_metrics(config)]
    specs = [spec for spec in known if spec is not None]
    _check_task(specs, config.task)
    return specs


def spec_of(metric: Metric) -> MetricSpec:
    module = getattr(metric.score_func, "__module__", "")
    task = next((t for t, mods in _TASK_MODULES.items() if module in mods), None)
    return MetricSpec(metric.name, None if metric.custom else task, metric.preferred_methods())


def _check_task(metrics: list[MetricSpec], task: str) -> None:
    """`r2` on a classifier or `accuracy` on a regressor fails only after training: say so now."""
    for index, metric in enumerate(metrics):
        other = metric.task or task
        if other != task:
            raise ConfigError(
                f"metrics[{index}]: {metric.name!r} is a {other} metric, but task is {task!r}; "
                f"pick a {task} metric (see sklearn.metrics.get_scorer_names())"
            )


def uses_pos_label(metric: Metric) -> bool:
    """A metric that scores one class of a binary target (f1, average_precision, brier)."""
    if metric.kwargs.get("average", "binary") != "binary":
        return False
    try:
        return "pos_label" in inspect.signature(metric.score_func).parameters
    except (TypeError, ValueError):
        return False


def _binary_only(metric: Metric) -> bool:
    """f1, precision, recall, jaccard: `average='binary'` refuses more than two classes."""
    try:
        average = inspect.signature(metric.score_func).parameters.get("average")
    except (TypeError, ValueError):
        return False
    default = average.default if average is not None else None
    return metric.kwargs.get("average", default) == "binary"


def _with_pos_label(metric: Metric, label: Any) -> Metric:
    if not uses_pos_label(metric):
        return metric
    kwargs = {**metric.kwargs, "pos_label": label}
    return dataclasses.replace(metric, pos_label=label, kwargs=kwargs)


def check_labels(config: Config, metrics: list[Metric], labels: Sequence[Any]) -> None:
    """Before training: binary metrics know which of the target's labels is positive."""
    binary = [(i, m) for i, m in enumerate(metrics) if uses_pos_label(m)]
    found = sorted(labels, key=str)
    wide = [(i, m) for i, m in binary if _binary_only(m)]
    if wide and len(found) > 2:
        index, metric = wide[0]
        raise ConfigError(
            f"metrics[{index}]: {metric.name!r} scores a binary target, but "
            f"{config.data.target!r} has {len(found)} classes ({_show_labels(found)}); "
            f"use {metric.name}_macro or {metric.name}_weighted"
        )
    if config.data.pos_label is not None:
        _check_pos_label(config, found)
    elif binary and len(found) == 2 and 1 not in found:
        names = ", ".join(m.name for _, m in binary)
        raise ConfigError(
            f"data.pos_label: {names} score one class of {config.data.target!r}, whose labels "
            f"are {_show_labels(found)} (not 0/1 or false/true); set data.pos_label to the "
            f"positive class, e.g. `pos_label: {_yaml_text(found[-1])}`"
        )


def _check_pos_label(config: Config, found: list[Any]) -> None:
    label = config.data.pos_label
    if label in found:
        return
    hint = ""
    if isinstance(label, bool) and not any(isinstance(v, bool) for v in found):
        hint = " (YAML reads an unquoted yes/no/on/off as true/false: quote the label)"
    raise ConfigError(
        f"data.pos_label: {label!r} is not a label of {config.data.target!r}; "
        f"found {_show_labels(found)}{hint}"
    )


def _show_labels(labels: list[Any]) -> str:
    shown = ", ".join(repr(v) for v in labels[:10])
    return f"[{shown}{', ...' if len(labels) > 10 else ''}]"


def _yaml_text(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


def resolve_rule_metric(name: str, metrics: tuple[str, ...], where: str) -> str:
    """A rule may name a metric by scorer name or by its displayed loss name."""
    for scorer in metrics:
        if name in {scorer, MetricName.of(scorer).display}:
            return scorer
    raise ConfigError(
        f"{where}: metric {name!r} is not among metrics ({', '.join(metrics)}); "
        "add it to `metrics:` so it is computed"
    )


def check_estimator_supports(
    estimator: Any, metrics: Sequence[Metric | MetricSpec], label: str
) -> None:
    for index, metric in enumerate(metrics):
        methods = metric.preferred_methods()
        if not any(hasattr(estimator, method) for method in methods):
            raise ConfigError(
                f"metrics[{index}]: {metric.name!r} needs {' or '.join(methods)}, which {label} "
                "does not provide (for SVC set model.params.probability: true, or pick "
                "another metric)"
            )
