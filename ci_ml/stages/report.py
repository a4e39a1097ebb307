"""report: assemble report.json and report.md from the run folder, and publish them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.github.plan import PublishOptions, carry_out, plan
from ci_ml.records import DecisionRecord, EvaluationRecord, Report, ValidationRecord
from ci_ml.report import renderer
from ci_ml.report.build import build_report

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.environment import Environment
    from ci_ml.rundir import RunDir


def assemble(config: Config, run: RunDir) -> Report:
    """The report of whatever stages ran; invalid data stops at validation."""
    validation = run.load(ValidationRecord)
    passed = validation.passed
    return build_report(
        report_id=config.report_id,
        name=config.name,
        primary_metric=config.primary_metric,
        validation=validation,
        card=run.read_challenger_card() if passed and run.challenger_card.is_file() else None,
        evaluation=run.load_if_present(EvaluationRecord) if passed else None,
        decision=run.load_if_present(DecisionRecord) if passed else None,
    )


def report(
    config: Config, run: RunDir, env: Environment, publish: PublishOptions | None = None
) -> Report:
    """report.json and report.md written, then step outputs, summary and PR comment."""
    result = assemble(config, run)
    data = result.to_json()
    path = run.save(result)
    markdown = renderer("markdown")(data)
    run.save_report_markdown(markdown)
    options = publish or PublishOptions()
    posting = plan(data, path, env.github, options, run.comment_dir, env.debug)
    carry_out(posting, env.github, data, markdown)
    return result
