"""The `engine:` section of ci-ml.yaml: where the heavy passes run.

`local` (the default) runs them on the runner with pyarrow, numpy and pandas;
`spark` runs them on a Spark cluster through Spark Connect, so the runner only
needs the thin client (`pip install 'ci-ml[spark]'`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ci_ml.errors import ConfigError

ENGINES = ("local", "spark")
DEFAULT_CONF = {
    # small shuffles: the only shuffle is of B per-resample summaries per partition
    "spark.sql.shuffle.partitions": "8",
}


@dataclass(frozen=True)
class SparkSettings:
    """`engine.spark`: a Spark Connect URL (`sc://host:15002`) or `local[N]`, and conf."""

    remote: str | None = None  # None: $SPARK_REMOTE, else local[2]
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineConfig:
    name: str = "local"
    spark: SparkSettings = field(default_factory=SparkSettings)


def parse_engine(section: Any) -> EngineConfig:
    """`engine: local`, `engine: spark`, or `engine: {name: spark, spark: {...}}`."""
    if section is None:
        return EngineConfig()
    if isinstance(section, str):
        section = {"name": section}
    name = section.get("name", "local")
    if name not in ENGINES:
        raise ConfigError(f"engine.name: expected one of {list(ENGINES)}, got {name!r}")
    spark = section.get("spark") or {}
    conf = {str(k): str(v) for k, v in (spark.get("conf") or {}).items()}
    return EngineConfig(name, SparkSettings(spark.get("remote"), conf))
