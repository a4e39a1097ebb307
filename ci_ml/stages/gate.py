"""gate: judge the declared rules on the evaluation record; a DecisionRecord."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.config import BudgetRule, GateRule
from ci_ml.gate import Evidence, decide
from ci_ml.records import DecisionRecord, EvaluationRecord
from ci_ml.stages import baseline

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.rundir import RunDir

LATENCY_BUDGET = "latency_ms_per_1k_rows"


def gate_rules(config: Config) -> tuple[GateRule, ...]:
    """The configured rules, typed, their metric names resolved when the config loaded
    (a rule naming a metric that is not computed failed there, before any training)."""
    return config.rules


def rules_for(config: Config, evaluation: EvaluationRecord) -> tuple[GateRule, ...]:
    """The configured rules, and on a first run the one evaluation.baseline.require implies."""
    implied = baseline.implied_rule(config, len(config.gate))
    if evaluation.baseline is None or implied is None:
        return config.rules
    return (*config.rules, implied)


def needs_latency(config: Config) -> bool:
    """Whether evaluate must time predictions: only a latency budget reads the timing."""
    return any(
        isinstance(rule, BudgetRule) and rule.budget == LATENCY_BUDGET for rule in config.rules
    )


def evidence(config: Config, evaluation: EvaluationRecord, run: RunDir) -> Evidence:
    """What evaluate recorded: the evaluation record and the bootstrap's resampled values."""
    return Evidence(
        metrics=evaluation.metrics,
        has_champion=evaluation.champion is not None,
        primary=evaluation.primary_metric or config.primary_metric,
        budgets=evaluation.budgets,
        resampled=run.load_resampled(),
        slices=evaluation.slices,
        n_rows=evaluation.rows,
        min_rows=config.evaluation.min_rows,
        multiple_testing=config.evaluation.multiple_testing,
        discordant=discordant(config, evaluation, run),
        baseline=evaluation.baseline is not None,
    )


def discordant(config: Config, evaluation: EvaluationRecord, run: RunDir) -> tuple[int, int] | None:
    """(only the champion right, only the challenger right), for the exact floor on
    accuracy: from McNemar's record, else from the stored row predictions."""
    if evaluation.mcnemar:
        mcnemar = evaluation.mcnemar
        return int(mcnemar["only_champion_right"]), int(mcnemar["only_challenger_right"])
    if config.task != "classification" or evaluation.champion is None:
        return None
    if not run.predictions.is_file():
        return None
    import pandas as pd

    from ci_ml.comparison import mcnemar_exact

    rows = pd.read_parquet(run.predictions, columns=["y_true", "champion_pred", "challenger_pred"])
    result = mcnemar_exact(rows["y_true"], rows["champion_pred"], rows["challenger_pred"])
    return result.only_champion_right, result.only_challenger_right


def judge(
    config: Config, run: RunDir, evaluation: EvaluationRecord | None = None
) -> DecisionRecord:
    """The decision, written to the run folder (read from it when not handed in)."""
    evaluation = evaluation or run.load(EvaluationRecord)
    decision = decide(rules_for(config, evaluation), evidence(config, evaluation, run))
    record = DecisionRecord.from_json(decision.to_dict())
    run.save(record)
    return record
