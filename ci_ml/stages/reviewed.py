"""promote the reviewed model: what a merged PR's check trained and gated, nothing retrained.

The PR check's artifact (its run folder: report.json, metrics, challenger/) is the
evidence. The model file must match the sha256 the report gated; the champion must
still be the one the check compared with (compare-and-swap). When the champion moved
since, the same model is scored again against the new champion on the same eval rows
and gated again before it may be promoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.bundle import ModelBundle, verify
from ci_ml.datasets import load_datasets
from ci_ml.errors import ConfigError, EnvironmentProblem
from ci_ml.github.plan import PublishOptions
from ci_ml.records import Report
from ci_ml.stages import evaluate, gate, report
from ci_ml.stages.promote import Promotion, promote

if TYPE_CHECKING:
    from ci_ml.registry.base import Registry
    from ci_ml.rundir import RunDir
    from ci_ml.workspace import Workspace


@dataclass(frozen=True)
class Merge:
    """The merge that asks for the promotion, for the audit entry."""

    pull_request: int | None = None
    merge_commit: str = ""
    merged_by: str = ""
    trained_by: str = ""  # the link of the check run that trained and gated the model

    def details(self) -> dict[str, Any]:
        return {
            "pull_request": self.pull_request,
            "merge_commit": self.merge_commit or None,
            "merged_by": self.merged_by or None,
            "trained_by_run": self.trained_by or None,
        }


@dataclass(frozen=True)
class Reviewed:
    """What happened: `compared_with` is the champion the check gated against, and
    `regated` says the champion had moved, so the model was scored and gated again."""

    promotion: Promotion
    compared_with: int | None
    regated: bool


def promote_reviewed(
    ws: Workspace, registry: Registry, expect: int | None, merge: Merge
) -> Reviewed:
    """Promote the artifact's model if the check (or the new gate) passed it. `expect`
    is the champion the caller knows the check compared with (0: none)."""
    run = ws.run
    checked = load_check_report(run)
    model_sha = verified_challenger(run, checked)
    compared = checked.champion
    if expect is not None and (expect or None) != compared:
        raise ConfigError(
            f"--expect-champion: the check compared with {version_name(compared)}, "
            f"found --expect-champion {expect}"
        )
    if checked.verdict != "promote":
        return Reviewed(Promotion(checked, None), compared, False)
    now = registry.champion()
    _require_history_kept(registry, compared)
    if now is not None and now.sha256 == model_sha:
        return Reviewed(Promotion(checked, now.number, unchanged=True), compared, False)
    moved = (now.number if now else None) != compared
    details = merge.details() | {"compared_with": compared, "regated": moved}
    if moved:
        regated = _regate(ws, registry, checked)
        if regated.verdict != "promote":
            return Reviewed(Promotion(regated, None), compared, True)
    done = promote(ws.config, run, registry, ws.env, details=details)
    return Reviewed(done, compared, moved)


def _require_history_kept(registry: Registry, compared: int | None) -> None:
    """The champion the check compared with must still be in the audit log: a registry
    rewritten by hand (a force-pushed champion branch) is refused, not followed."""
    if compared is None:
        return
    if not any(e.get("version") == compared for e in registry.audit_log()):
        raise EnvironmentProblem(
            f"the registry's audit log no longer records version {compared}, the champion "
            "the PR check compared with: its history was rewritten by hand (a force-pushed "
            "champion branch?); refused, nothing promoted. Restore the branch, or promote "
            "by hand after a new check"
        )


def load_check_report(run: RunDir) -> Report:
    """report.json of the PR check's artifact, or a message saying what is missing."""
    if not run.has(Report):
        raise EnvironmentProblem(
            f"{run.path_of(Report)}: the PR check's artifact has no report.json; it may "
            "have expired or been deleted: nothing promoted (push to the PR's branch, or "
            "re-run its check, then merge again or promote by hand)"
        )
    return run.load(Report)


def verified_challenger(run: RunDir, checked: Report) -> str:
    """The model file's sha256, after checking it is the one the report gated."""
    if not run.challenger_card.is_file():
        raise EnvironmentProblem(
            f"{run.challenger_card}: the PR check's artifact holds no challenger model; "
            "nothing promoted (the pr-check workflow must upload challenger/)"
        )
    record = ModelBundle.read(run.challenger).model_file
    verify(record, "the PR check's challenger")
    gated = (checked.challenger or {}).get("sha256")
    if record.sha256 != gated:
        raise EnvironmentProblem(
            f"{run.challenger_card}: model sha256 {record.sha256[:12]}… is not the "
            f"{str(gated)[:12]}… report.json gated; nothing promoted"
        )
    return record.sha256


def _regate(ws: Workspace, registry: Registry, checked: Report) -> Report:
    """The same model against the new champion, on the eval rows the check used."""
    config, run = ws.config, ws.run
    data = load_datasets(config)
    before = (checked.eval or {}).get("sha256")
    rows = data.lineage()["eval"].get("sha256")
    if before != rows:
        raise EnvironmentProblem(
            f"eval rows changed since the PR check (sha256 {str(before)[:12]}… then, "
            f"{str(rows)[:12]}… now): cannot re-gate on the same rows; nothing promoted"
        )
    evaluate.evaluate(config, run, registry, data, measure_latency=gate.needs_latency(config))
    gate.judge(config, run)
    return report.report(config, run, lambda: registry, ws.env, PublishOptions(False, "off"))


def version_name(version: int | None) -> str:
    return "no champion" if version is None else f"version {version}"
