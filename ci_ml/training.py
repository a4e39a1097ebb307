"""Train the challenger: an estimator from config (or the project's own command),
saved with a model card that records its full lineage."""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import lineage
from ci_ml.bundle import CARD, ModelFile, SparkPipeline, save_model, save_spark_pipeline
from ci_ml.environment import current
from ci_ml.errors import ConfigError, DataError, EnvironmentProblem
from ci_ml.metrics import (
    check_estimator_supports,
    check_labels,
    config_metrics,
    metric_specs,
)
from ci_ml.user_command import run_command

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.config import Config
    from ci_ml.datasets import Datasets

CARD_NAME = CARD  # for code that imported it from here; ci_ml/bundle.py owns the name


def import_estimator(dotted: str) -> type:
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model.estimator: cannot import {dotted!r}: {exc}") from exc
    found = getattr(module, attr, None)
    if found is None:
        close = difflib.get_close_matches(attr, [n for n in dir(module) if n[:1].isupper()], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"model.estimator: {module_name!r} has no {attr!r}{hint}")
    if not (inspect.isclass(found) and hasattr(found, "fit") and hasattr(found, "get_params")):
        raise ConfigError(f"model.estimator: {dotted!r} is not a scikit-learn estimator class")
    return found


def make_estimator(config: Config) -> Any:
    assert config.model.estimator is not None
    cls = import_estimator(config.model.estimator)
    params = dict(config.model.params)
    accepted = cls().get_params(deep=False)
    for key in params:
        if key not in accepted:
            close = difflib.get_close_matches(key, list(accepted), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"model.params.{key}: {cls.__name__} has no parameter {key!r}{hint}")
    if "random_state" in accepted and "random_state" not in params:
        params["random_state"] = config.data.seed  # a retrain on the same data is reproducible
    try:
        estimator = cls(**params)
        _validate_params(estimator)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{_param_path(str(exc))}: {cls.__name__} rejected it: {exc}") from exc
    return estimator


def _validate_params(estimator: Any) -> None:
    """scikit-learn checks parameters only in `fit`; its own check runs here, before any data.
    Estimators of other packages inherit `_validate_params` from BaseEstimator but declare no
    `_parameter_constraints` for it to check against (lightgbm, xgboost): they are left to
    their own `fit`."""
    check = getattr(estimator, "_validate_params", None)
    if callable(check) and isinstance(getattr(estimator, "_parameter_constraints", None), dict):
        check()


def _param_path(message: str) -> str:
    import re

    found = re.search(r"The '(\w+)' parameter", message)
    return f"model.params.{found.group(1)}" if found else "model.params"


def check_setup(config: Config) -> None:
    """Config mistakes that would otherwise surface after training: metrics that do not fit
    the task, estimator parameters the estimator refuses. Exit 2 before any data is read."""
    metrics = metric_specs(config)  # scikit-learn's metrics are imported only to score
    if config.model.estimator is not None:
        check_estimator_supports(make_estimator(config), metrics, config.model.estimator)


def build_pipeline(estimator: Any, x: pd.DataFrame, preprocessing: str) -> Any:
    """Impute and scale numeric columns, impute and one-hot encode the others."""
    if preprocessing == "none":
        return estimator
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric, categorical = split_column_kinds(x)
    numeric_steps = Pipeline(
        [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    columns = ColumnTransformer(
        [("numeric", numeric_steps, numeric), ("categorical", categorical_steps, categorical)]
    )
    return Pipeline([("preprocess", columns), ("estimator", estimator)])


def split_column_kinds(x: pd.DataFrame) -> tuple[list[str], list[str]]:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [c for c in x.columns if is_numeric_dtype(x[c]) and not is_bool_dtype(x[c])]
    return numeric, [c for c in x.columns if c not in numeric]


def as_categorical_text(x: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """One dtype for the encoder: object strings, whatever the reader produced. Object, not
    pandas 3's `str`: scikit-learn turns a `str` column into Python strings again at every
    fit and transform (the encoder's pipeline took 0.44 s against 0.20 s on 80k rows of 5
    such columns). A missing value is what it always was (`_missing_text`)."""
    if not categorical:
        return x
    x = x.copy()
    for column in categorical:
        x[column] = _as_text(x[column])
    return x


def _as_text(values: pd.Series) -> pd.Series:
    """`str(v)` of each value (missing where missing), computed once per distinct value."""
    import numpy as np
    import pandas as pd

    if not _distinct_text(values):
        cells = values.astype(object).where(values.notna(), other=None).tolist()
        missing = _missing_text(bool(values.notna().any()))
        texts = np.array([missing if v is None else str(v) for v in cells], dtype=object)
        return pd.Series(texts, index=values.index, name=values.name, dtype=object)
    codes, distinct = pd.factorize(values)  # -1 where missing: the last entry below
    missing = _missing_text(len(distinct) > 0)
    texts = np.array([*(str(v) for v in distinct.tolist()), missing], dtype=object)
    return pd.Series(texts.take(codes), index=values.index, name=values.name, dtype=object)


def _missing_text(any_text: bool) -> Any:
    """A missing value in a column of text, as models have always been trained and scored
    with it: the text was `map`ped, whose result pandas 3 makes a `str` column (NaN, which
    the imputer fills) when it holds any text, and pandas 2 an object column (None, which
    the encoder keeps as a category of its own)."""
    return _missing_after_map() if any_text else None


@functools.cache
def _missing_after_map() -> Any:
    import pandas as pd

    return pd.Series(["", None], dtype=object).map(lambda v: v).iloc[1]


def _distinct_text(values: pd.Series) -> bool:
    """Whether values that hash alike also print alike (1 and 1.0, or True and 1, in one
    object column do not): then each distinct value's text is every equal value's text."""
    from pandas.api.types import infer_dtype

    return values.dtype != object or infer_dtype(values, skipna=True) in {"string", "boolean"}


def train(
    config: Config, data: Datasets, out: Path, command_log: Path
) -> tuple[Any, dict[str, Any]]:
    """Fit the challenger, save it in `out`; the fitted model and its model card.
    model.command's output is written to `command_log` as it comes."""
    return seal(config, data, fit_model(config, data, out, command_log), out)


@dataclass(frozen=True)
class Fitted:
    """A challenger fit but not yet saved: what it is called in messages, how long it took."""

    model: Any
    label: str
    seconds: float


def fit_model(config: Config, data: Datasets, out: Path, command_log: Path) -> Fitted:
    """The challenger fit on the training rows (or written by the project's command,
    whose output goes to `command_log` as it comes)."""
    _require_target(data)
    metrics = config_metrics(config)
    if config.task == "classification":
        check_labels(config, metrics, data.y_train.drop_duplicates().tolist())
    started = time.perf_counter()
    if config.model.command:
        model = _train_with_command(config, data, out, command_log)
        label = f"the model written by {config.model.command[0]}"
    else:
        estimator = make_estimator(config)
        check_estimator_supports(estimator, metrics, f"{config.model.estimator}")
        model = build_pipeline(estimator, data.x_train, config.model.preprocessing)
        model = _fit(model, data)
        label = str(config.model.estimator)
    return Fitted(model, label, time.perf_counter() - started)


def seal(config: Config, data: Datasets, fitted: Fitted, out: Path) -> tuple[Any, dict[str, Any]]:
    """The fitted challenger saved in `out`: the model as saved, and its model card."""
    model = fitted.model
    if isinstance(model, SparkPipeline):  # scored on the cluster: its columns are checked there
        model_file = save_spark_pipeline(Path(model.path), out)
        model = SparkPipeline(str(model_file.path), model_file.sha256)
    else:
        check_estimator_supports(model, config_metrics(config), fitted.label)
        model_file = save_model(model, out, config.model.format)
    return model, model_card(config, data, model, model_file, fitted.seconds)


def model_features(x: pd.DataFrame) -> pd.DataFrame:
    _, categorical = split_column_kinds(x)
    return as_categorical_text(x, categorical)


def _fit(model: Any, data: Datasets) -> Any:
    try:
        model.fit(model_features(data.x_train), data.y_train)
    except (ValueError, TypeError) as exc:
        raise DataError(f"training failed on {data.train_file['path']}: {exc}") from exc
    return model


def _require_target(data: Datasets) -> None:
    missing = data.y_train.isna()
    if bool(missing.any()):
        rows = [int(i) for i in missing[missing].index[:5]]
        raise DataError(
            f"{data.train_file['path']}: target {data.target!r} is missing in "
            f"{int(missing.sum())} row(s), e.g. rows {rows}"
        )


def _train_with_command(config: Config, data: Datasets, out: Path, log: Path) -> Any:
    import joblib

    out.mkdir(parents=True, exist_ok=True)
    train_path = out / "train-rows.parquet"
    data.train.to_parquet(train_path, index=False)
    model_path = out / "user-model.joblib"
    spark_path = out / "user-model.sparkml"
    paths = {
        "CI_ML_SPARK_MODEL_PATH": str(spark_path),
        "CI_ML_TRAIN_PATH": str(train_path),
        "CI_ML_TARGET": data.target,
        "CI_ML_FEATURES": ",".join(data.features),
        "CI_ML_MODEL_PATH": str(model_path),
        "CI_ML_SEED": str(config.data.seed),
    }
    environment = current()
    # a Python trainer's prints reach the live log as they are made, not 8 KiB later
    env = {"PYTHONUNBUFFERED": "1"} | environment.child_env(paths | _spark_env(config))
    assert config.model.command is not None
    command, limit = config.model.command, config.model.timeout
    try:
        secrets = config.model.secret_env
        run_command(command, config.root, env, limit, log, environment.in_actions, secrets)
    except BaseException:  # failed, stopped, or ci-ml cancelled: none may pass for a model
        _forget_outputs(train_path, model_path, spark_path)
        raise
    train_path.unlink()
    if spark_path.is_dir():  # a Spark ML PipelineModel, saved with its own writer
        return SparkPipeline(str(spark_path), "")
    if not model_path.is_file():
        raise EnvironmentProblem(
            f"model.command finished but wrote no model to $CI_ML_MODEL_PATH ({model_path})"
        )
    model = joblib.load(model_path)  # the project's own code produced it: trusted as such
    model_path.unlink()
    return model


def _spark_env(config: Config) -> dict[str, str]:
    """Under `engine: spark`: the cluster and the training source, for the team's own job."""
    if config.engine.name != "spark":
        return {}
    from ci_ml.stages.cluster import source_of, spark_engine

    source = source_of(config, "train")
    env = {"CI_ML_SPARK_REMOTE": spark_engine(config).connect_url}
    return env | ({"CI_ML_TRAIN_SOURCE": source.location} if source else {})


def _forget_outputs(*paths: Path) -> None:
    """What a failed or stopped command wrote, or half wrote, in the challenger folder."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def model_card(
    config: Config, data: Datasets, model: Any, model_file: ModelFile, seconds: float
) -> dict[str, Any]:
    estimator = getattr(model, "steps", [(None, model)])[-1][1]
    default_name = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    estimator_name = getattr(estimator, "estimator_name", default_name)
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {
        "name": config.name,
        "task": config.task,
        "created_at": lineage.now(),
        "actor": lineage.actor(),
        "git": lineage.git_state(config.root),
        "run_link": lineage.run_link(),
        "estimator": config.model.estimator or estimator_name,
        "params": _plain(params),
        "preprocessing": config.model.preprocessing if not config.model.command else "command",
        "command": list(config.model.command) if config.model.command else None,
        "config_hash": config.config_hash,
        "seed": config.data.seed,
        "data": data.lineage(),
        "model_file": model_file.to_dict(),
        "metrics": {},
        "training_seconds": round(seconds, 3),
        "versions": lineage.library_versions(),
        # what loading the champion later is checked against (ci_ml.bundle)
        "libraries": dict(model_file.libraries),
    }


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    simple = (str, int, float, bool, type(None))
    return {k: v if isinstance(v, simple) else repr(v) for k, v in params.items()}
