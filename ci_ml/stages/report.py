"""report: assemble report.json and report.md from the run folder, and publish them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ci_ml.github.plan import PublishOptions, carry_out, plan
from ci_ml.records import DecisionRecord, EvaluationRecord, Report, ValidationRecord
from ci_ml.report import renderer
from ci_ml.report.build import build_report

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.environment import Environment
    from ci_ml.registry.base import Registry
    from ci_ml.rundir import RunDir


def assemble(config: Config, run: RunDir, registry: Callable[[], Registry]) -> Report:
    """The report of whatever stages ran; invalid data stops at validation. `registry`
    opens the registry, only when the champion's card is needed."""
    validation = run.load(ValidationRecord)
    passed = validation.passed
    evaluation = run.load_if_present(EvaluationRecord) if passed else None
    return build_report(
        report_id=config.report_id,
        name=config.name,
        primary_metric=config.primary_metric,
        validation=validation,
        card=run.read_challenger_card() if passed and run.challenger_card.is_file() else None,
        evaluation=evaluation,
        decision=run.load_if_present(DecisionRecord) if passed else None,
        champion_card=_champion_card(registry, evaluation),
        curves=_curves(config, run) if evaluation else None,
        trend=_trend(config, registry) if evaluation else None,
    )


TREND_VERSIONS = 10


def _trend(config: Config, registry: Callable[[], Registry]) -> list[dict[str, Any]] | None:
    """The primary metric of the last champions, from the audit log's promotions: one read
    whatever the number of versions (on GitHub the registry branch holds it; no model card
    or model is fetched). None below two promotions."""
    from ci_ml.metrics import MetricName

    promotions = [
        entry
        for entry in registry().audit_log(fresh=False)
        if entry.get("event") == "promote" and isinstance(entry.get("metrics"), dict)
    ][-TREND_VERSIONS:]
    if len(promotions) < 2:
        return None
    name = MetricName.of(config.primary_metric, None)
    return [
        {
            "version": entry["version"],
            "value": name.shown(entry["metrics"].get(config.primary_metric)),
            "created_at": entry.get("at"),
        }
        for entry in promotions
    ]


def _champion_card(
    registry: Callable[[], Registry], evaluation: EvaluationRecord | None
) -> dict[str, Any] | None:
    """The model card of the champion the challenger was compared with."""
    version = evaluation.champion_version if evaluation else None
    return None if version is None else registry().version(version).card


def _curves(config: Config, run: RunDir) -> dict[str, Any] | None:
    from ci_ml.report import curves

    frame = run.load_predictions()
    return None if frame is None else curves.from_predictions(frame, config.task).to_dict()


def report(
    config: Config,
    run: RunDir,
    registry: Callable[[], Registry],
    env: Environment,
    publish: PublishOptions | None = None,
) -> Report:
    """report.json and report.md written, then step outputs, summary and PR comment."""
    result = assemble(config, run, registry)
    data = result.to_json()
    path = run.save(result)
    markdown = renderer("markdown")(data)
    run.save_report_markdown(markdown)
    run.save_report_html(renderer("html")(data))
    options = publish or PublishOptions()
    posting = plan(data, path, env.github, options, run.comment_dir, env.debug)
    carry_out(posting, env.github, data, markdown)
    return result
