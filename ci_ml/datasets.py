"""The training and evaluation rows of a run, chosen the same way by every stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ci_ml.data import EvalSplit, data_sha256, read_table, split_rows
from ci_ml.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config


@dataclass
class Datasets:
    train: pd.DataFrame
    eval: pd.DataFrame
    target: str
    features: list[str]
    train_file: dict[str, Any]
    eval_split: EvalSplit
    eval_fingerprint: dict[str, Any] | None = field(default=None)  # engine: spark

    @property
    def x_train(self) -> pd.DataFrame:
        return self.train[self.features]

    @property
    def y_train(self) -> pd.Series:
        return self.train[self.target]

    @property
    def x_eval(self) -> pd.DataFrame:
        return self.eval[self.features]

    @property
    def y_eval(self) -> pd.Series:
        return self.eval[self.target]

    def lineage(self) -> dict[str, Any]:
        return {
            "train": self.train_file | {"rows_used": len(self.train)},
            "eval": asdict(self.eval_split) | _fingerprint(self.eval_fingerprint),
            "target": self.target,
            "features": self.features,
        }


def _fingerprint(found: dict[str, Any] | None) -> dict[str, Any]:
    return {} if found is None else {"fingerprint": found}


def load_datasets(config: Config) -> Datasets:
    """Read train (and eval) and pick the eval rows: a file, or a seeded split of train."""
    if config.engine.name == "spark":
        from ci_ml.stages.cluster import cluster_datasets

        return cluster_datasets(config)  # a train sample; the eval rows stay on the cluster
    data = config.data
    frame = read_table(data.train)
    features = feature_columns(config, list(frame.columns), str(data.train))
    train_file: dict[str, Any] = {
        "path": _rel(config, data.train),
        "sha256": data_sha256(data.train),
        "rows": len(frame),
    }
    if data.eval is not None:
        held = read_table(data.eval)
        _require_columns(held, [*features, data.target], str(data.eval))
        split = EvalSplit("file", _rel(config, data.eval), data_sha256(data.eval), len(held))
        return Datasets(frame, held, data.target, features, train_file, split)
    stratify = config.task == "classification"
    train, held, stratified = split_rows(
        frame, data.target, data.eval_fraction, data.seed, stratify
    )
    split = EvalSplit(
        "split",
        train_file["path"],
        train_file["sha256"],
        len(held),
        fraction=data.eval_fraction,
        seed=data.seed,
        stratified=stratified,
    )
    return Datasets(train, held, data.target, features, train_file, split)


def feature_columns(config: Config, columns: list[str], source: str) -> list[str]:
    data = config.data
    _require_columns_named(columns, [data.target], source, "data.target")
    if data.features:
        _require_columns_named(columns, list(data.features), source, "data.features")
        return list(data.features)
    dropped = {data.target, *data.drop}
    features = [c for c in columns if c not in dropped]
    if not features:
        raise DataError(f"{source}: no feature columns left besides the target {data.target!r}")
    return features


def _require_columns(frame: pd.DataFrame, wanted: list[str], source: str) -> None:
    _require_columns_named(list(frame.columns), wanted, source, "columns")


def _require_columns_named(columns: list[str], wanted: list[str], source: str, key: str) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        shown = ", ".join(map(repr, columns[:20])) + (" …" if len(columns) > 20 else "")
        raise DataError(
            f"{source}: column(s) {', '.join(map(repr, missing))} named by {key} not found; "
            f"the file has: {shown}"
        )


def _rel(config: Config, path: Any) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)
