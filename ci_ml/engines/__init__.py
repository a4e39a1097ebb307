"""Where the heavy passes run: `local` (pyarrow, numpy) or `spark` (Spark Connect).

Both engines take a `DataSource`, an `EvaluationRequest` and the loaded models
and return an `EngineEvaluation`; both compute the same mergeable summaries
(see `summaries`) with the same Poisson bootstrap (see `poisson`), so on the
same rows they give the same metrics and intervals. Nothing here imports
pyspark unless the engine is `spark`, nor scikit-learn (the summaries) until they
are used: the config imports the settings at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ci_ml.engines.settings import EngineConfig, SparkSettings, parse_engine
from ci_ml.engines.sources import DataSource, Fingerprint, parse_source
from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.engines.summaries import EngineEvaluation, EvaluationRequest

SPARK_EXTRA = "pip install 'ci-ml[spark]'"


def __getattr__(name: str) -> Any:
    if name not in {"EngineEvaluation", "EvaluationRequest"}:
        raise AttributeError(f"module 'ci_ml.engines' has no attribute {name!r}")
    return getattr(importlib.import_module("ci_ml.engines.summaries"), name)


class Engine(Protocol):
    name: str

    def fingerprint(self, source: DataSource) -> Fingerprint: ...

    def columns(self, source: DataSource) -> list[str]: ...

    def evaluate(
        self, source: DataSource, request: EvaluationRequest, models: Sequence[Any]
    ) -> EngineEvaluation: ...

    def close(self) -> None: ...


def open_engine(config: EngineConfig) -> Engine:
    """The configured engine; `spark` connects now (exit 3 naming the URL if it cannot)."""
    if config.name == "local":
        from ci_ml.engines.local import LocalEngine

        return LocalEngine()
    try:
        from ci_ml.engines.spark import SparkEngine
    except ImportError as exc:
        raise ConfigError(
            f"engine: spark needs the Spark Connect client, which is not installed "
            f"({exc}); install it with: {SPARK_EXTRA}"
        ) from exc
    return SparkEngine(config.spark)


__all__ = [
    "DataSource",
    "Engine",
    "EngineConfig",
    "EngineEvaluation",
    "EvaluationRequest",
    "Fingerprint",
    "SparkSettings",
    "open_engine",
    "parse_engine",
    "parse_source",
]
