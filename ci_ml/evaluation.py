"""Score the challenger and the champion on the very same evaluation rows."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import EnvironmentProblem
from ci_ml.modelfile import load_model, model_file_from_card
from ci_ml.training import CARD_NAME, model_features

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config
    from ci_ml.datasets import Datasets
    from ci_ml.registry.base import Registry, Version
    from ci_ml.rundir import RunDir


@dataclass
class Contender:
    """A model entering the comparison, with the feature columns it was trained on."""

    role: str
    model: Any
    features: list[str]
    version: int | None = None
    size_bytes: int | None = None


def load_challenger(run: RunDir) -> tuple[Contender, dict[str, Any]]:
    card = run.read(f"challenger/{CARD_NAME}")
    model = load_model(model_file_from_card(run.challenger, card))
    return challenger_from(model, card), card


def challenger_from(model: Any, card: dict[str, Any]) -> Contender:
    size = card.get("model_file", {}).get("size_bytes")
    return Contender("challenger", model, list(card["data"]["features"]), None, size)


def load_champion(registry: Registry) -> tuple[Contender | None, Version | None]:
    version = registry.champion()
    if version is None:
        return None, None
    record = registry.model_file(version.number)
    model = load_model(record)
    features = list(version.card.get("data", {}).get("features", []))
    size = record.size_bytes or version.card.get("model_file", {}).get("size_bytes")
    return Contender("champion", model, features, version.number, size), version


def evaluate(
    config: Config,
    data: Datasets,
    challenger: Contender,
    champion: Contender | None,
    measure_latency: bool = False,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Metrics of both contenders on data.eval, and their predictions row by row."""
    warnings: list[str] = []
    scored = {"challenger": _CachedPredictions(challenger, data)}
    if champion is not None:
        missing = [c for c in champion.features if c not in data.eval.columns]
        if missing:
            warnings.append(
                f"champion (version {champion.version}) cannot be scored: the eval data lacks "
                f"its feature column(s) {', '.join(map(repr, missing))}"
            )
        else:
            scored["champion"] = _CachedPredictions(champion, data)
    scores = {role: score_all(config, cached, data) for role, cached in scored.items()}
    metrics = {
        name: _metric_entry(scores["challenger"][name], scores.get("champion", {}).get(name))
        for name in config.metrics
    }
    predictions = _predictions(data, scored)
    contenders = {"challenger": challenger, "champion": champion if "champion" in scored else None}
    budgets = _budgets(contenders, scored, measure_latency)
    return {"metrics": metrics, "budgets": budgets, "warnings": warnings}, predictions


def _budgets(
    contenders: dict[str, Contender | None],
    scored: dict[str, _CachedPredictions],
    measure_latency: bool,
) -> dict[str, Any]:
    from ci_ml import budgets

    sizes = {role: budgets.size_mb(c.size_bytes) if c else None for role, c in contenders.items()}
    out = {"model_size_mb": budgets.budget_entry(sizes["challenger"], sizes["champion"])}
    if measure_latency:
        timed = {
            role: budgets.latency_ms_per_1k_rows(c.model, scored[role].x) if c else None
            for role, c in contenders.items()
        }
        out["latency_ms_per_1k_rows"] = budgets.budget_entry(timed["challenger"], timed["champion"])
    return out


def score_all(config: Config, cached: _CachedPredictions, data: Datasets) -> dict[str, float]:
    from sklearn.metrics import get_scorer

    out = {}
    for name in config.metrics:
        try:
            out[name] = float(get_scorer(name)(cached, cached.x, data.y_eval))
        except (ValueError, TypeError, AttributeError) as exc:
            raise EnvironmentProblem(
                f"cannot compute {name!r} for the {cached.role}: {exc}"
            ) from exc
    return out


class _CachedPredictions:
    """Stands in for a model in sklearn scorers, predicting each response once."""

    def __init__(self, contender: Contender, data: Datasets) -> None:
        self.role = contender.role
        self.x = model_features(data.eval[contender.features])
        self._model = contender.model
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._model, name)
        if name not in {"predict", "predict_proba", "decision_function"}:
            return attribute

        @functools.wraps(attribute)  # sklearn reads the method's __name__
        def cached(x: Any) -> Any:
            if name not in self._cache:
                self._cache[name] = attribute(x)
            return self._cache[name]

        return cached


def _metric_entry(challenger: float, champion: float | None) -> dict[str, Any]:
    delta = None if champion is None else challenger - champion
    return {
        "challenger": _finite(challenger),
        "champion": _finite(champion),
        "delta": _finite(delta),
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _predictions(data: Datasets, scored: dict[str, _CachedPredictions]) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, Any] = {"row": data.eval.index.to_numpy(), "y_true": data.y_eval.to_numpy()}
    for role, cached in scored.items():
        columns[f"{role}_pred"] = cached.predict(cached.x)
    return pd.DataFrame(columns)
