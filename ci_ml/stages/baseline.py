"""The first run's reference: with no champion, a trivial model fitted on the same
training rows (sklearn.dummy), scored by `evaluate` exactly as a champion would be,
so the gate still has something to beat (`evaluation.baseline`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.config import ChangeRule
from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.config import Config, GateRule
    from ci_ml.datasets import Datasets

STRATEGIES = {
    "classification": ("prior", "most_frequent"),
    "regression": ("mean", "median"),
}


def strategy(config: Config) -> str:
    """The sklearn.dummy strategy for this task; a wrong one names the field."""
    chosen = config.evaluation.baseline.strategy
    allowed = STRATEGIES[config.task]
    if chosen == "auto":
        return allowed[0]
    if chosen not in allowed:
        raise ConfigError(
            f"evaluation.baseline.strategy: {chosen!r} is not a {config.task} strategy; "
            f"expected auto or {' or '.join(allowed)}"
        )
    return chosen


def estimator_name(config: Config) -> str:
    kind = "DummyClassifier" if config.task == "classification" else "DummyRegressor"
    return f"{kind}(strategy={strategy(config)!r})"


def fit(config: Config, data: Datasets) -> Any:
    """The baseline fitted on the training rows (its input columns are ignored)."""
    from sklearn.dummy import DummyClassifier, DummyRegressor

    kind = DummyClassifier if config.task == "classification" else DummyRegressor
    model = kind(strategy=strategy(config))
    return model.fit(data.x_train, data.y_train)


def describe(config: Config, data: Datasets) -> dict[str, Any]:
    """What evaluation.json / report.json say of the baseline (`baseline`)."""
    return {
        "estimator": f"sklearn.dummy.{estimator_name(config)}",
        "strategy": strategy(config),
        "train_rows": len(data.train),
        "require": config.evaluation.baseline.require,
    }


def wanted(config: Config, has_champion: bool) -> bool:
    return config.evaluation.baseline.enabled and not has_champion


def implied_rule(config: Config, index: int) -> GateRule | None:
    """The rule `require` adds on the primary metric: better with confidence, or not worse."""
    require = config.evaluation.baseline.require
    if require == "off" or not config.evaluation.baseline.enabled:
        return None
    level = config.evaluation.confidence if require == "better" else None
    return ChangeRule(index, config.primary_metric, "min_delta", 0.0, level, against="baseline")


def contender(config: Config, data: Datasets, features: list[str]) -> Any:
    """The baseline as `evaluate` scores a champion (an `evaluate.Contender`)."""
    from ci_ml.stages.evaluate import Contender

    return Contender("baseline", fit(config, data), features)
