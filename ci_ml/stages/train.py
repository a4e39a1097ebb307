"""train: fit the challenger; writes challenger/ (model file, model card, profile).

The model card is written here once and never rewritten: the challenger's
metrics live in the evaluation record, and join the card only in the copy the
registry keeps (stages/promote.py).
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.bundle import SparkPipeline
from ci_ml.rundir import write_json_atomic
from ci_ml.training import check_setup, fit_model, seal
from ci_ml.user_command import CommandFailed

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.datasets import Datasets
    from ci_ml.rundir import RunDir

PREDICTION_SAMPLE = 10_000


@dataclass(frozen=True)
class Trained:
    """The fitted challenger, and its model card as written to challenger/."""

    model: Any
    card: dict[str, Any]

    @property
    def estimator(self) -> str:
        return str(self.card["estimator"])

    @property
    def rows(self) -> int:
        return int(self.card["data"]["train"]["rows_used"])

    @property
    def seconds(self) -> float:
        return float(self.card["training_seconds"])


def fit(config: Config, run: RunDir, data: Datasets) -> Trained:
    check_setup(config)  # fail before any work
    out = run.challenger
    if out.exists():
        shutil.rmtree(out)  # a stale challenger must never be evaluated by mistake
    with contextlib.suppress(OSError):  # nor an earlier command's log read as this one's
        run.command_log.unlink(missing_ok=True)
    try:
        fitted = fit_model(config, data, out, run.command_log)
    except CommandFailed as failed:
        failure = failed.run.to_dict() | {"message": failed.message}
        write_json_atomic(run.training_failure, failure, durable=False)
        raise
    model, card = seal(config, data, fitted, out)
    profile = training_profile(config, data, model, _rows_profile(config, data))
    write_json_atomic(run.challenger_profile, profile, durable=False)  # the run folder's
    write_json_atomic(run.challenger_card, card, durable=False)
    return Trained(model, card)


def _rows_profile(config: Config, data: Datasets) -> dict[str, Any]:
    """The training rows' profile: on the runner, scanned here (in a thread beside the
    model's save, both holding the GIL, it saved nothing and cost ~1,000 context
    switches); on the cluster, by the cluster."""
    if config.engine.name == "spark":  # every training row, not the sample fit on
        from ci_ml.stages.cluster import train_profile

        return train_profile(config, data.features)
    from ci_ml.validation import build_profile
    from ci_ml.validation.scan import arrow_table

    table = arrow_table(data.train)
    return build_profile(table, data.features, data.target, seed=config.data.seed)


def training_profile(
    config: Config, data: Datasets, model: Any, profile: dict[str, Any]
) -> dict[str, Any]:
    """A compact profile of the training rows (`profile`) and of the model's predictions
    on them, kept with the model so later data can be checked for drift without this data."""
    from ci_ml.training import model_features
    from ci_ml.validation import profile_values

    seed = config.data.seed
    if isinstance(model, SparkPipeline):
        return profile  # its predictions are made on the cluster only: no prediction profile
    kind = "categorical" if config.task == "classification" else "numeric"
    # a sample describes the prediction distribution as well as every row, for less
    rows = data.x_train.sample(n=min(len(data.x_train), PREDICTION_SAMPLE), random_state=seed)
    predictions = model.predict(model_features(rows))
    profile["prediction"] = profile_values(predictions, "prediction", kind, seed)
    return profile
