"""gate: judge the declared rules on the evaluation record; a DecisionRecord."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_ml.gate import Evidence, decide
from ci_ml.metrics import resolve_rule_metric
from ci_ml.records import DecisionRecord, EvaluationRecord

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.rundir import RunDir

LATENCY_BUDGET = "latency_ms_per_1k_rows"


def gate_rules(config: Config) -> list[dict[str, Any]]:
    """The configured rules, each naming its metric by scorer name; a rule naming a
    metric that is not computed is a config error, raised before any training."""
    metrics = config.metrics
    return [
        rule
        if "budget" in rule
        else rule | {"metric": resolve_rule_metric(rule["metric"], metrics, f"gate[{i}].metric")}
        for i, rule in enumerate(config.gate)
    ]


def needs_latency(config: Config) -> bool:
    """Whether evaluate must time predictions: only a latency budget reads the timing."""
    return any(rule.get("budget") == LATENCY_BUDGET for rule in config.gate)


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
    )


def judge(
    config: Config, run: RunDir, evaluation: EvaluationRecord | None = None
) -> DecisionRecord:
    """The decision, written to the run folder (read from it when not handed in)."""
    evaluation = evaluation or run.load(EvaluationRecord)
    decision = decide(gate_rules(config), evidence(config, evaluation, run))
    record = DecisionRecord.from_json(decision.to_dict())
    run.save(record)
    return record
