"""evaluate: the challenger and the champion scored on the very same eval rows.

Each model predicts once (every response its metrics need); everything after
that -- exact values, the paired bootstrap, McNemar, slices -- is computed from
those stored predictions, so `gate` and `report` never predict again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ci_ml.bundle import open_model
from ci_ml.errors import EnvironmentProblem
from ci_ml.metrics import config_metrics
from ci_ml.modelfile import load_model, model_file_from_card
from ci_ml.preload import alongside, cores
from ci_ml.records import EvaluationRecord
from ci_ml.stages import baseline
from ci_ml.training import model_features

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from ci_ml.comparison import BootstrapResult, Metric, Predictions
    from ci_ml.config import Config
    from ci_ml.datasets import Datasets
    from ci_ml.registry.base import Registry, Version
    from ci_ml.rundir import RunDir
    from ci_ml.stages.train import Trained


@dataclass
class Contender:
    """A model entering the comparison, with the feature columns it was trained on."""

    role: str
    model: Any
    features: list[str]
    version: int | None = None
    size_bytes: int | None = None
    warnings: tuple[str, ...] = ()  # library versions differ from the ones it was saved with


@dataclass
class Evaluation:
    """What scoring gives: the record's metric parts, row predictions, resampled values."""

    record: dict[str, Any]
    predictions: pd.DataFrame | None
    resampled: dict[str, np.ndarray]


def evaluate(
    config: Config,
    run: RunDir,
    registry: Registry,
    data: Datasets,
    trained: Trained | None = None,
    measure_latency: bool = False,
) -> EvaluationRecord:
    """Both models on the eval rows, written to the run folder; `trained` spares `check`
    re-loading the model it just fit. `measure_latency` times predictions (a latency
    budget asks for it: the caller knows the gate's rules, this stage does not)."""
    if trained is None:
        challenger, card = load_challenger(run)
    else:
        challenger, card = challenger_from(trained.model, trained.card), trained.card
    _require_same_data(card, data)
    champion, version = load_champion(registry)
    reference = champion
    if baseline.wanted(config, champion is not None):
        reference = baseline.contender(config, data, challenger.features)
    scored = _scorer(config)(config, data, challenger, reference, measure_latency)
    result = scored.record
    champion_info = None
    if version is not None and result["metrics"][config.primary_metric]["champion"] is not None:
        champion_info = {"version": version.number, "sha256": version.sha256}
        result["warnings"].extend(_overlap_warning(data, version.card))
    if champion is not None:
        result["warnings"].extend(champion.warnings)
    record = EvaluationRecord(
        eval=data.lineage()["eval"],
        challenger={"sha256": card["model_file"]["sha256"], "version": None},
        champion=champion_info,
        primary_metric=config.primary_metric,
        baseline=baseline.describe(config, data) if reference and not champion else None,
        **result,
    )
    if scored.predictions is not None:  # none from the engine: they grow with the rows
        run.save_predictions(scored.predictions)
    run.save_resampled(scored.resampled)
    run.save(record)
    return record


def _scorer(config: Config) -> Any:
    """`score`, or the Poisson bootstrap through an engine (see evaluate_engine)."""
    from ci_ml.stages.evaluate_engine import score_on_engine, uses_engine

    return score_on_engine if uses_engine(config) else score


def _require_same_data(card: dict[str, Any], data: Datasets) -> None:
    trained_on = card["data"]["train"]["sha256"]
    if trained_on != data.train_file["sha256"]:
        raise EnvironmentProblem(
            f"{data.train_file['path']} changed since the challenger was trained "
            f"(sha256 {trained_on[:12]}… then, {data.train_file['sha256'][:12]}… now); "
            "run `ci-ml train` again"
        )


def _overlap_warning(data: Datasets, champion_card: dict[str, Any]) -> list[str]:
    """An eval split of new training data may contain rows the champion learned from."""
    champion_train = champion_card.get("data", {}).get("train", {}).get("sha256")
    if data.eval_split.source == "split" and champion_train not in {None, data.eval_split.sha256}:
        return [
            "eval rows are a split of new training data the champion may have partly seen; "
            "set data.eval to a fixed held-out file for a fair comparison"
        ]
    return []


def load_challenger(run: RunDir) -> tuple[Contender, dict[str, Any]]:
    card = run.read_challenger_card()
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
    loaded = open_model(record, "the champion")
    features = list(version.card.get("data", {}).get("features", []))
    size = record.size_bytes or version.card.get("model_file", {}).get("size_bytes")
    contender = Contender("champion", loaded.model, features, version.number, size, loaded.warnings)
    return contender, version


def score(
    config: Config,
    data: Datasets,
    challenger: Contender,
    champion: Contender | None,
    measure_latency: bool = False,
) -> Evaluation:
    """Both contenders on data.eval: metrics with intervals, McNemar, slices, budgets."""
    metrics = config_metrics(config)
    warnings: list[str] = []
    if champion is not None and not _can_score(champion, data, warnings):
        champion = None
    contenders = {"challenger": challenger, "champion": champion}
    xs = _eval_features(data, contenders)
    preds = {r: _predict(c, xs[r], metrics) for r, c in contenders.items() if c}
    y = data.y_eval.to_numpy()
    # latency is timed first, with the cores to itself
    budgets = _budgets(contenders, xs, measure_latency)
    bootstrap = _bootstrap_alongside(config, metrics, y, preds)
    record: dict[str, Any] = {
        "comparison": _comparison_settings(config, len(y)),
        "mcnemar": _mcnemar(config, y, preds),
        "slices": _slices(config, metrics, data, y, preds),
        "budgets": budgets,
        "warnings": warnings,
    }
    frame = _predictions_frame(data, preds)
    results, values = bootstrap()
    record["metrics"] = {m.name: _entry(m, r) for m, r in zip(metrics, results, strict=True)}
    resampled = {m.name: v for m, v in zip(metrics, values, strict=True)}
    return Evaluation(record, frame, resampled)


def _bootstrap_alongside(
    config: Config, metrics: list[Metric], y: np.ndarray, preds: dict[str, Predictions]
) -> Callable[[], tuple[list[BootstrapResult], list[np.ndarray]]]:
    """The bootstrap, the longest part, runs while McNemar, the slices and the
    predictions table are computed; the returned call waits for it. On an eval set
    large enough for its chunks to pay on every core (`bootstrap_threads`), it runs
    on all of them when the returned call is made instead, after that short work
    (milliseconds at 200k rows), so no more threads than cores ever run."""
    from ci_ml.comparison import paired_bootstrap_values  # here: never imported in the thread
    from ci_ml.comparison.bootstrap import bootstrap_threads

    available = cores()
    threads = bootstrap_threads(len(y), available)
    if threads < 2:
        return alongside(lambda: _bootstrap(paired_bootstrap_values, config, metrics, y, preds))

    def on_every_core() -> tuple[list[BootstrapResult], list[np.ndarray]]:
        from threadpoolctl import threadpool_limits

        # each chunk's BLAS/OpenMP calls get the cores the other threads leave
        with threadpool_limits(limits=max(1, available // threads)):
            return _bootstrap(paired_bootstrap_values, config, metrics, y, preds, threads)

    return on_every_core


def _can_score(champion: Contender, data: Datasets, warnings: list[str]) -> bool:
    missing = [c for c in champion.features if c not in data.eval.columns]
    if missing:
        warnings.append(
            f"champion (version {champion.version}) cannot be scored: the eval data lacks "
            f"its feature column(s) {', '.join(map(repr, missing))}"
        )
    return not missing


def _eval_features(
    data: Datasets, contenders: dict[str, Contender | None]
) -> dict[str, pd.DataFrame]:
    """Each contender's eval features, adapted once for models trained on the same columns."""
    adapted: dict[tuple[str, ...], pd.DataFrame] = {}
    for contender in contenders.values():
        if contender is not None and tuple(contender.features) not in adapted:
            columns = tuple(contender.features)
            adapted[columns] = model_features(data.eval[list(columns)])
    return {r: adapted[tuple(c.features)] for r, c in contenders.items() if c}


def _predict(contender: Contender, x: pd.DataFrame, metrics: list[Metric]) -> Predictions:
    from ci_ml.labels import predict_once

    try:
        return predict_once(contender.model, x, metrics)
    except (ValueError, TypeError, AttributeError) as exc:
        raise EnvironmentProblem(
            f"the {contender.role} cannot predict the eval rows: {exc}"
        ) from exc


def _bootstrap(
    paired_bootstrap_values: Callable[..., tuple[list[BootstrapResult], list[np.ndarray]]],
    config: Config,
    metrics: list[Metric],
    y: np.ndarray,
    preds: dict[str, Predictions],
    threads: int = 1,
) -> tuple[list[BootstrapResult], list[np.ndarray]]:
    settings = config.evaluation
    try:
        return paired_bootstrap_values(
            metrics,
            y,
            preds["challenger"],
            preds.get("champion"),
            n_resamples=settings.resamples,
            confidence=settings.confidence,
            seed=settings.seed,
            threads=threads,
        )
    except ValueError as exc:
        raise EnvironmentProblem(f"cannot score the eval rows: {exc}") from exc


def _entry(metric: Metric, result: BootstrapResult) -> dict[str, Any]:
    data = result.to_dict()
    return {
        "challenger": data["challenger"],
        "champion": data["champion"],
        "delta": data["delta"],
        "display_name": metric.display_name,
        "lower_is_better": not metric.greater_is_better,
        "relative_delta": data["relative_delta"],
        "relative_delta_reason": data["relative_delta_reason"],
        "interval": data["delta_interval"],
        "challenger_interval": data["challenger_interval"],
        "champion_interval": data["champion_interval"],
        "prob_better": data["prob_challenger_better"],
        "n_rows": data["n_rows"],
        "n_valid_resamples": data["n_valid_resamples"],
        "method": data["method"],
        "tail_index": data["tail_index"],
        "upper_bound_method": data["upper_bound_method"],
        "interval_method": data["interval_method"],
        "change_interval_method": data["delta_interval_method"],
    }


def _comparison_settings(config: Config, n_rows: int) -> dict[str, Any]:
    settings = config.evaluation
    return {
        "method": "paired bootstrap",
        "bootstrap": settings.bootstrap,
        "confidence": settings.confidence,
        "resamples": settings.resamples,
        "seed": settings.seed,
        "rows": n_rows,
        "min_rows": settings.min_rows,
        "multiple_testing": settings.multiple_testing,
    }


def _mcnemar(config: Config, y: np.ndarray, preds: dict[str, Predictions]) -> dict[str, Any] | None:
    """Exact McNemar on per-row correctness, beside the bootstrap of accuracy."""
    if config.task != "classification" or not config.evaluation.mcnemar or "champion" not in preds:
        return None
    from ci_ml.comparison import mcnemar_exact

    result = mcnemar_exact(y, preds["champion"].predict, preds["challenger"].predict)
    return result.to_dict()


def _slices(
    config: Config,
    metrics: list[Metric],
    data: Datasets,
    y: np.ndarray,
    preds: dict[str, Predictions],
) -> list[dict[str, Any]]:
    from ci_ml.comparison import slice_metrics

    out: list[dict[str, Any]] = []
    for column in config.evaluation.slice_by:
        if column not in data.eval.columns:
            raise EnvironmentProblem(
                f"evaluation.slice_by: column {column!r} is not in the eval data"
            )
        values = data.eval[column].to_numpy()
        for metric in metrics:
            results = slice_metrics(
                metric,
                y,
                preds.get("champion"),
                preds["challenger"],
                values,
                config.evaluation.min_slice_rows,
                column,
            )
            out.extend(r.to_dict() | {"metric": metric.name} for r in results)
    return out


def _budgets(
    contenders: dict[str, Contender | None], xs: dict[str, Any], measure_latency: bool
) -> dict[str, Any]:
    from ci_ml import budgets

    sizes = {role: budgets.size_mb(c.size_bytes) if c else None for role, c in contenders.items()}
    out = {"model_size_mb": budgets.budget_entry(sizes["challenger"], sizes["champion"])}
    if measure_latency:
        timed = {
            role: budgets.latency_ms_per_1k_rows(c.model, xs[role]) if c else None
            for role, c in contenders.items()
        }
        out["latency_ms_per_1k_rows"] = budgets.budget_entry(timed["challenger"], timed["champion"])
    return out


def _predictions_frame(data: Datasets, preds: dict[str, Predictions]) -> pd.DataFrame:
    """Row by row, every stored response of both models, for audits and re-analysis."""
    import pandas as pd

    columns: dict[str, Any] = {"row": data.eval.index.to_numpy(), "y_true": data.y_eval.to_numpy()}
    for role, p in preds.items():
        columns[f"{role}_pred"] = p.predict
        if p.predict_proba is not None and p.classes is not None:
            for index, label in enumerate(p.classes):
                columns[f"{role}_proba_{label}"] = np.asarray(p.predict_proba)[:, index]
    return pd.DataFrame(columns)
