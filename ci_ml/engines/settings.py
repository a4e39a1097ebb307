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
DEFAULT_TRAIN_SAMPLE_ROWS = 1_000_000
LATENCY = "latency_ms_per_1k_rows"
DEFAULT_CONF = {
    # small shuffles: the only shuffle is of B per-resample summaries per partition
    "spark.sql.shuffle.partitions": "8",
}


@dataclass(frozen=True)
class SparkSettings:
    """`engine.spark`: a Spark Connect URL (`sc://host:15002`) or `local[N]`, and conf."""

    remote: str | None = None  # None: $SPARK_REMOTE, else local[2]
    conf: dict[str, str] = field(default_factory=dict)
    # the challenger is fit on the runner, on a seeded sample of at most this many rows
    train_sample_rows: int = DEFAULT_TRAIN_SAMPLE_ROWS


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
    rows = spark.get("train_sample_rows", DEFAULT_TRAIN_SAMPLE_ROWS)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ConfigError(
            f"engine.spark.train_sample_rows: expected a positive integer, got {rows!r}"
        )
    return EngineConfig(name, SparkSettings(spark.get("remote"), conf, rows))


def refuse_unwired(engine: EngineConfig, gate: Any) -> None:
    """What the Spark engine cannot judge fails at load, by key."""
    timed = [r for r in gate or () if isinstance(r, dict) and r.get("budget") == LATENCY]
    if engine.name == "spark" and timed:
        raise ConfigError(
            f"gate: the {LATENCY} budget times predictions on eval rows held by the runner; "
            "engine: spark keeps them on the cluster, so it cannot be judged there"
        )
