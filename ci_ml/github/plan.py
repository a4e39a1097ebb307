"""Where a finished report goes besides the run directory, as one plan.

`plan()` is pure: from the report and the environment it decides, once, the
step outputs, the job summary, the annotations and whether to post the sticky
PR comment and commit status. `carry_out()` is the edge that does it. Publishing
never changes the verdict: a failed post is a warning, and the comment is saved
under the run directory for a fork's workflow_run poster.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ml.github.publish import PublishResult, publish
from ci_ml.github.runner import annotation, append_summary, write_outputs
from ci_ml.github.settings import GitHubSettings, should_post


@dataclass(frozen=True)
class PublishOptions:
    """`--github/--no-github` (None: decide from the environment) and `--comment`."""

    github: bool | None = None
    comment: str = "update"


@dataclass(frozen=True)
class PostingPlan:
    """What publishing a report will do; `post` false means GitHub is not called."""

    annotations: tuple[str, ...]
    outputs: dict[str, str]
    output_path: Path | None
    summary_path: Path | None
    post: bool
    reason: str  # why posting is allowed or not (should_post's answer)
    options: PublishOptions
    fallback_dir: Path


def plan(
    report: dict[str, Any],
    report_path: Path,
    settings: GitHubSettings,
    options: PublishOptions,
    fallback_dir: Path,
    debug: bool = False,
) -> PostingPlan:
    allowed, reason = should_post(settings, options.github)
    notes = annotation_lines(report, report_path, debug) if settings.in_actions else ()
    return PostingPlan(
        annotations=notes,
        outputs=report_outputs(report, report_path),
        output_path=settings.output_path,
        summary_path=settings.summary_path,
        # in Actions a refused post still saves the comment for a fork's poster
        post=allowed or options.github is True or settings.in_actions,
        reason=reason,
        options=options,
        fallback_dir=fallback_dir,
    )


def carry_out(
    posting: PostingPlan, settings: GitHubSettings, report: dict[str, Any], markdown: str
) -> PublishResult | None:
    for line in posting.annotations:
        # stderr keeps stdout clean for `--format json`; the runner reads commands on both
        print(line, file=sys.stderr, flush=True)
    if posting.output_path:
        write_outputs(posting.output_path, posting.outputs)
    if posting.summary_path:
        append_summary(posting.summary_path, markdown)
    if not posting.post:
        return None
    options = posting.options
    return publish(
        settings,
        markdown,
        report["report_id"],
        report["verdict"],
        options.comment,
        posting.fallback_dir,
        force=options.github,
    )


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


def annotation_lines(report: dict[str, Any], report_path: Path, debug: bool) -> tuple[str, ...]:
    """Validation and gate failures as annotations on the run's summary page."""
    lines = []
    for failure in report.get("validation", {}).get("failures", []):
        level = "error" if failure.get("severity") == "error" else "warning"
        title = f"ci-ml validation: {failure.get('column') or 'table'}"
        lines.append(annotation(level, failure["message"], title=title))
    for rule in report.get("rules", []):
        if rule.get("status") == "fail":
            title = f"ci-ml gate: {rule['rule']} {rule['kind']}"
            lines.append(annotation("error", rule["reason"], title=title))
    for warning in report.get("warnings", []):
        lines.append(annotation("warning", warning, title="ci-ml"))
    if debug:
        lines.append(annotation("debug", f"report written to {report_path}"))
    return tuple(lines)


def write_step_outputs(output_path: Path | str | None, outputs: dict[str, str]) -> None:
    """Step outputs, when running in GitHub Actions ($GITHUB_OUTPUT is set)."""
    if output_path:
        write_outputs(Path(output_path), outputs)
