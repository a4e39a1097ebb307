"""Shared data and the one Spark Connect server (local mode) of the `spark` test group.

The server starts once per test session (about 15 s), with the venv's Python
for its workers and Java from the machine; the tests that need it take the
`spark_engine` fixture and are marked `spark`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ci_ml.engines import EvaluationRequest

FEATURES = ("a", "b", "c")
CLASSIFICATION_METRICS = (
    "accuracy",
    "f1",
    "balanced_accuracy",
    "matthews_corrcoef",
    "precision_macro",
    "neg_log_loss",
    "roc_auc",
    "average_precision",
)
REGRESSION_METRICS = (
    "r2",
    "explained_variance",
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
    "neg_mean_squared_error",
)

REPO = Path(__file__).resolve().parent.parent


def eval_rows(n_rows: int, task: str, seed: int = 0, heavy: bool = False) -> pd.DataFrame:
    """Three numeric features, an id, and a target that depends on them; `heavy`: with
    Student t(2) noise, whose squared errors have a tail index of 1 (the tail switch)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_rows, 3))
    frame = pd.DataFrame(x, columns=list(FEATURES))
    noise = rng.standard_t(2, n_rows) if heavy else rng.normal(size=n_rows)
    signal = x[:, 0] + 0.5 * x[:, 1] + noise
    frame["y"] = (signal > 0).astype(np.int64) if task == "classification" else 3 * signal
    frame["id"] = np.arange(n_rows, dtype=np.int64)
    return frame


def contenders(frame: pd.DataFrame, task: str) -> list[Any]:
    """A challenger and a champion fitted on the rows (what matters is that they differ)."""
    x, y = frame[list(FEATURES)], frame["y"]
    if task == "classification":
        return [LogisticRegression().fit(x, y), DecisionTreeClassifier(max_depth=3).fit(x, y)]
    return [Ridge().fit(x, y), DecisionTreeRegressor(max_depth=4).fit(x, y)]


def request(task: str, resamples: int = 200, **kwargs: Any) -> EvaluationRequest:
    metrics = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    return EvaluationRequest("y", FEATURES, metrics, task, resamples=resamples, **kwargs)


def write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> Path:
    """The rows as `parts` Parquet files, in shuffled order: a lake folder."""
    folder.mkdir(parents=True, exist_ok=True)
    shuffled = frame.sample(frac=1.0, random_state=1)
    for index, part in enumerate(np.array_split(np.arange(len(frame)), parts)):
        shuffled.iloc[part].to_parquet(folder / f"part-{index:05d}.parquet", index=False)
    return folder


def assert_same_results(left: Any, right: Any, tol: float = 1e-9) -> None:
    """Two EngineEvaluations agree on every value and interval bound to `tol`."""
    assert left.n_rows == right.n_rows
    for a, b in zip(left.results, right.results, strict=True):
        da, db = a.to_dict(), b.to_dict()
        assert da.keys() == db.keys()
        for key in da:
            _close(da[key], db[key], tol, f"{a.metric}.{key}")


def _close(a: Any, b: Any, tol: float, where: str) -> None:
    if isinstance(a, dict):
        for key in a:
            _close(a[key], b[key], tol, f"{where}.{key}")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= tol, f"{where}: {a} != {b}"
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="session")
def spark_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A SparkEngine on a local Spark Connect server, started once for the session."""
    pytest.importorskip("pyspark", reason="the spark extra: pip install 'ci-ml[spark]'")
    from ci_ml.engines.settings import SparkSettings
    from ci_ml.engines.spark import SparkEngine

    # the local server puts its warehouse (catalog tables) under the current folder; its
    # Python workers find the tests' own estimators (FlakyTree) on PYTHONPATH, as a team's
    # estimator package is installed on its cluster. SPARK_TESTING: the server takes a
    # free port (not 15002), so other Spark test sessions on the machine do not collide
    old = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("spark"))
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    try:
        with _environment(PYTHONPATH=path, SPARK_TESTING="1"):
            engine = SparkEngine(SparkSettings("local[2,2]"))  # two attempts per task
    finally:
        os.chdir(old)
    yield engine
    engine.close()


@pytest.fixture
def on_cluster(spark_engine: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`ci-ml check` in-process on the session's Spark Connect server (not one per run)."""
    from ci_ml.stages import cluster

    opened = cluster.open_engine

    def shared(settings: Any) -> Any:
        return spark_engine if settings.name == "spark" else opened(settings)

    monkeypatch.setattr(cluster, "open_engine", shared)
    monkeypatch.setattr(cluster, "_OPEN", [])
    yield spark_engine


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class FlakyTree(DecisionTreeClassifier):
    """A tree whose predictions fail on the first attempt of partition 0 on an executor,
    as a lost executor does; Spark retries the task. `always` fails every attempt."""

    always = False

    def predict(self, X: Any, check_input: bool = True) -> Any:
        _fail_on_an_executor(self.always)
        return super().predict(X, check_input)

    def predict_proba(self, X: Any, check_input: bool = True) -> Any:
        _fail_on_an_executor(self.always)
        return super().predict_proba(X, check_input)


class BrokenTree(FlakyTree):
    always = True


class FlakyColumns(dict[str, Any]):
    """A data schema's columns whose look-up fails on the first attempt of partition 0 on
    an executor (the rule checks read them there); `always`: on every attempt."""

    always = False

    def __getitem__(self, key: str) -> Any:
        _fail_on_an_executor(self.always)
        return super().__getitem__(key)


class BrokenColumns(FlakyColumns):
    always = True


def _fail_on_an_executor(always: bool) -> None:
    from pyspark import TaskContext

    task = TaskContext.get()
    if task is not None and task.partitionId() == 0 and (always or task.attemptNumber() == 0):
        raise RuntimeError(f"executor lost (test), attempt {task.attemptNumber()}")


class CountingTree(DecisionTreeClassifier):
    """A tree that notes, in the file `log`, how many rows each predict call scored
    (on an executor or on the runner): a second scoring pass shows as twice the rows."""

    def __init__(self, log: str = "", max_depth: int | None = None) -> None:
        super().__init__(max_depth=max_depth)
        self.log = log

    def predict(self, X: Any, check_input: bool = True) -> Any:
        self._note("predict", len(X))
        return super().predict(X, check_input)

    def predict_proba(self, X: Any, check_input: bool = True) -> Any:
        self._note("predict_proba", len(X))
        return super().predict_proba(X, check_input)

    def _note(self, method: str, rows: int) -> None:
        with open(self.log, "a", encoding="utf-8") as out:
            out.write(f"{method} {rows}\n")


def scored_rows(log: Path) -> dict[str, int]:
    """Per predict method, the rows a CountingTree scored."""
    totals: dict[str, int] = {}
    for line in log.read_text().splitlines():
        method, rows = line.split()
        totals[method] = totals.get(method, 0) + int(rows)
    return totals
