"""Where a finished report goes besides the run directory: the Actions runner
(step outputs, job summary, annotations) and, on a pull request, GitHub itself
(the sticky comment and the commit status).

Publishing never changes the verdict: a failed post is a warning, and the
comment is saved under the run directory for a fork's workflow_run poster.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ml import github

COMMENT_DIR = "comment"


@dataclass(frozen=True)
class PublishOptions:
    """`--github/--no-github` (None: decide from the environment) and `--comment`."""

    github: bool | None = None
    comment: str = "update"


def publish_report(
    report: dict[str, Any], report_path: Path, markdown: str, options: PublishOptions
) -> github.PublishResult | None:
    settings = github.GitHubSettings.from_env()
    if settings.in_actions:
        _annotate(report, report_path)
    if settings.output_path:
        github.write_outputs(settings.output_path, report_outputs(report, report_path))
    if settings.summary_path:
        github.append_summary(settings.summary_path, markdown)
    wanted, _ = github.should_post(settings, options.github)
    if not wanted and options.github is not True and not settings.in_actions:
        return None
    fallback = report_path.parent / COMMENT_DIR
    return github.publish(
        settings,
        markdown,
        report["report_id"],
        report["verdict"],
        options.comment,
        fallback,
        force=options.github,
    )


def publish_outputs(outputs: dict[str, str]) -> None:
    """Step outputs, when running in GitHub Actions ($GITHUB_OUTPUT is set)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        github.write_outputs(Path(path), outputs)


def report_outputs(report: dict[str, Any], report_path: Path) -> dict[str, str]:
    """What a workflow reads after the step: `steps.<id>.outputs.verdict` and so on."""
    primary = report.get("primary_metric", "")
    shown = report.get("metrics", {}).get(primary, {}).get("shown", {})
    challenger = report.get("challenger") or {}
    return {
        "verdict": report["verdict"],
        "reason": report["reason"],
        "champion-version": _text(report.get("champion")),
        "challenger-version": _text(challenger.get("version") or report.get("promoted")),
        "primary-metric": _text(primary),
        "champion-value": _text(shown.get("champion")),
        "challenger-value": _text(shown.get("challenger")),
        "delta": _text(shown.get("delta")),
        "report-path": str(report_path),
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _annotate(report: dict[str, Any], report_path: Path) -> None:
    """Validation and gate failures as annotations on the run's summary page."""
    for failure in report.get("validation", {}).get("failures", []):
        level = "error" if failure.get("severity") == "error" else "warning"
        title = f"ci-ml validation: {failure.get('column') or 'table'}"
        _emit(github.annotation(level, failure["message"], title=title))
    for rule in report.get("rules", []):
        if rule.get("status") == "fail":
            title = f"ci-ml gate: {rule['rule']} {rule['kind']}"
            _emit(github.annotation("error", rule["reason"], title=title))
    for warning in report.get("warnings", []):
        _emit(github.annotation("warning", warning, title="ci-ml"))
    if os.environ.get("RUNNER_DEBUG") == "1":
        _emit(github.annotation("debug", f"report written to {report_path}"))


def _emit(line: str) -> None:
    # stderr keeps stdout clean for `--format json`; the runner reads commands on both
    print(line, file=sys.stderr, flush=True)
