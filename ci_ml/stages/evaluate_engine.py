"""evaluate through an engine: the Poisson bootstrap from mergeable summaries.

With `engine: spark` the eval rows stay on the cluster (only per-resample
summaries come back); with `evaluation.bootstrap: poisson` the local engine
runs the same method on the rows in memory. Either way the record has the
shape `score` gives, plus `comparison.bootstrap`, `engine` and
`sketch_bounds`, and the resampled values the gate tests are per resample,
never per row; slices come from grouped sums of the same scoring pass (see
engines.slices). No row predictions are stored (nothing that grows with rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.comparison import McNemarResult, mcnemar_counts
from ci_ml.engines import EvaluationRequest
from ci_ml.errors import EnvironmentProblem
from ci_ml.metrics import config_metrics
from ci_ml.stages.cluster import engine_for, held_out_source

if TYPE_CHECKING:
    from ci_ml.comparison import BootstrapResult, Metric
    from ci_ml.config import Config
    from ci_ml.datasets import Datasets
    from ci_ml.engines import EngineEvaluation
    from ci_ml.stages.evaluate import Contender, Evaluation


def uses_engine(config: Config) -> bool:
    """Whether evaluate runs the Poisson bootstrap through an engine."""
    return config.engine.name != "local" or config.evaluation.bootstrap == "poisson"


def score_on_engine(
    config: Config,
    data: Datasets,
    challenger: Contender,
    champion: Contender | None,
    measure_latency: bool = False,
) -> Evaluation:
    """Both contenders on the eval rows, through the configured engine."""
    from ci_ml.stages.evaluate import Evaluation, _budgets, _can_score

    metrics = config_metrics(config)  # the task check and `data.pos_label` applied
    warnings: list[str] = []
    if champion is not None and not _can_score(champion, data, warnings):
        champion = None
    contenders = [c for c in (challenger, champion) if c is not None]
    _check_slice_columns(config, data)
    outcome = _evaluate(config, data, _request(config, data, metrics, contenders), contenders)
    roles = {"challenger": challenger, "champion": champion}
    xs = {c.role: data.eval[c.features] for c in contenders} if measure_latency else {}
    record: dict[str, Any] = {
        "metrics": _metrics(metrics, outcome),
        "comparison": _comparison(config, outcome),
        "mcnemar": _mcnemar(config, outcome),
        "slices": _slices(config, outcome, metrics),
        "budgets": _budgets(roles, xs, measure_latency),
        "warnings": warnings,
    }
    resampled = {m.name: outcome.resampled[m.name] for m in metrics}
    return Evaluation(record, None, resampled)


def _request(
    config: Config, data: Datasets, metrics: list[Metric], contenders: list[Contender]
) -> EvaluationRequest:
    settings = config.evaluation
    names = [m.name for m in metrics]
    if _wants_mcnemar(config, len(contenders)) and "accuracy" not in names:
        names.append("accuracy")  # its row-type counts give McNemar's discordant rows
    return EvaluationRequest(
        target=data.target,
        features=tuple(contenders[0].features),
        metrics=tuple(names),
        task=config.task,
        resamples=settings.resamples,
        seed=settings.seed,
        confidence=settings.confidence,
        row_key=settings.row_key,
        model_features=tuple(tuple(c.features) for c in contenders),
        slice_by=tuple(settings.slice_by),
    )


def _evaluate(
    config: Config, data: Datasets, request: EvaluationRequest, contenders: list[Contender]
) -> EngineEvaluation:
    engine = engine_for(config)
    models = [c.model for c in contenders]
    try:
        if config.engine.name == "local":
            from ci_ml.engines.local import LocalEngine

            assert isinstance(engine, LocalEngine)
            return engine.evaluate_frame(data.eval, request, models)
        return engine.evaluate(held_out_source(config), request, models)
    except ValueError as exc:
        raise EnvironmentProblem(f"cannot score the eval rows: {exc}") from exc


def _check_slice_columns(config: Config, data: Datasets) -> None:
    missing = [c for c in config.evaluation.slice_by if c not in data.eval.columns]
    if missing:
        raise EnvironmentProblem(
            f"evaluation.slice_by: column {missing[0]!r} is not in the eval data"
        )


def _slices(
    config: Config, outcome: EngineEvaluation, metrics: list[Metric]
) -> list[dict[str, Any]]:
    """Per-slice metrics from the grouped sums of the scoring pass (see engines.slices)."""
    from ci_ml.engines.slices import slice_records

    columns = list(config.evaluation.slice_by)
    if not columns:
        return []
    assert outcome.plan is not None
    names = [m.name for m in metrics]
    min_rows = config.evaluation.min_slice_rows
    return slice_records(outcome.plan, outcome.slices, columns, names, min_rows)


def _metrics(metrics: list[Metric], outcome: EngineEvaluation) -> dict[str, Any]:
    from ci_ml.stages.evaluate import _entry

    results = {r.metric: _exact_change(r, outcome) for r in outcome.results}
    return {m.name: _entry(m, results[m.name]) for m in metrics}


def _exact_change(result: BootstrapResult, outcome: EngineEvaluation) -> BootstrapResult:
    """Accuracy's change interval also holds the exact one on the discordant rows, as on
    the row bootstrap (`comparison.bootstrap.widened`)."""
    if result.metric != "accuracy" or outcome.agreement is None:
        return result
    from ci_ml.comparison.bootstrap import widened

    _, only_champion, only_challenger, _ = outcome.agreement
    return widened(result, only_champion, only_challenger)


def _comparison(config: Config, outcome: EngineEvaluation) -> dict[str, Any]:
    from ci_ml.stages.evaluate import _comparison_settings

    extra = {"engine": outcome.engine, "sketch_bounds": outcome.sketch_bounds}
    return _comparison_settings(config, outcome.n_rows) | {"bootstrap": "poisson"} | extra


def _wants_mcnemar(config: Config, n_models: int) -> bool:
    return config.task == "classification" and config.evaluation.mcnemar and n_models == 2


def _mcnemar(config: Config, outcome: EngineEvaluation) -> dict[str, Any] | None:
    """Exact McNemar from the exact (unweighted) row-type counts."""
    if not _wants_mcnemar(config, 2) or outcome.agreement is None:
        return None
    both, only_champion, only_challenger, neither = outcome.agreement
    two_sided, one_sided = mcnemar_counts(only_champion, only_challenger)
    result = McNemarResult(
        outcome.n_rows, both, only_champion, only_challenger, neither, two_sided, one_sided
    )
    return result.to_dict()
