"""promote: register the challenger and make it champion, if it won; and rollback.

Compare-and-swap: the champion must still be the one this run compared
against, so two racing runs cannot both win. The run folder's challenger/ is
left as train wrote it; the registry receives a copy whose model card also
carries the challenger's metrics.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import lineage
from ci_ml.errors import EnvironmentProblem
from ci_ml.github.plan import report_outputs, write_step_outputs
from ci_ml.records import Report
from ci_ml.registry.base import Who
from ci_ml.rundir import write_json_atomic

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.environment import Environment
    from ci_ml.registry.base import Registry, Version
    from ci_ml.rundir import RunDir


@dataclass(frozen=True)
class Promotion:
    """What promote did: `version` is the champion after it, None when not promoted."""

    report: Report
    version: int | None
    unchanged: bool = False  # the champion already held this model

    @property
    def promoted(self) -> bool:
        return self.version is not None


def promote(
    config: Config,
    run: RunDir,
    registry: Registry,
    env: Environment,
    force: bool = False,
    reason: str = "",
) -> Promotion:
    """Idempotent: promoting the same run twice, or a challenger trained on the
    champion's very data and config, changes nothing."""
    report = run.load(Report)
    if report.verdict != "promote" and not force:
        return Promotion(report, None)
    card = run.read_challenger_card()
    _require_reported_challenger(report, card)
    champion = registry.champion()
    if champion is not None and _already_champion(report, card, champion):
        return Promotion(report, champion.number, unchanged=True)
    with _with_metrics(run, report) as folder:
        version = registry.add(folder)
    who = _who(config, env, report, reason or report.reason)
    who.details["forced"] = report.verdict != "promote"  # promoted over a blocking verdict
    registry.promote(version.number, report.champion, who)
    report.challenger = (report.challenger or {}) | {"version": version.number}
    report.promoted = version.number
    path = run.save(report)
    write_step_outputs(env.output_path, report_outputs(report.to_json(), path))
    return Promotion(report, version.number)


def rollback(
    config: Config, registry: Registry, env: Environment, to: int | None, reason: str
) -> tuple[Version | None, Version]:
    """(the champion before, the champion now) after restoring `to` or the previous one."""
    before = registry.champion()
    commit = lineage.git_state(config.root, env).get("commit")
    who = Who(lineage.actor(env), lineage.now(), commit, reason)
    return before, registry.rollback(who, to)


@contextlib.contextmanager
def _with_metrics(run: RunDir, report: Report) -> Iterator[Path]:
    """A copy of challenger/ (hard links where possible) whose card holds the metrics."""
    staging = Path(tempfile.mkdtemp(prefix=".registering-", dir=run.path))
    try:
        folder = staging / run.challenger.name
        shutil.copytree(run.challenger, folder, copy_function=_link_or_copy)
        card = run.read_challenger_card()
        card["metrics"] = {k: v.get("challenger") for k, v in report.metrics.items()}
        write_json_atomic(folder / run.challenger_card.name, card)  # a new file, not the link
        yield folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _require_reported_challenger(report: Report, card: dict[str, Any]) -> None:
    reported = (report.challenger or {}).get("sha256")
    if reported != card["model_file"]["sha256"]:
        raise EnvironmentProblem(
            "challenger/ was retrained after report.json was written; run `ci-ml evaluate`, "
            "`ci-ml gate` and `ci-ml report` again before promoting"
        )


def _already_champion(report: Report, card: dict[str, Any], champion: Version) -> bool:
    if report.promoted == champion.number:
        return True
    return _trained_on(card) == _trained_on(champion.card)


def _trained_on(card: dict[str, Any]) -> tuple[Any, ...]:
    """What makes a retrain a no-op: same config, same training and evaluation data."""
    data = card.get("data") or {}
    return (
        card.get("config_hash"),
        (data.get("train") or {}).get("sha256"),
        (data.get("eval") or {}).get("sha256"),
    )


def _who(config: Config, env: Environment, report: Report, reason: str) -> Who:
    lineage_info = report.lineage or {}
    data = lineage_info.get("data") or {}
    return Who(
        actor=lineage.actor(env),
        at=lineage.now(),
        commit=lineage.git_state(config.root, env).get("commit"),
        reason=reason,
        details={
            "verdict": report.verdict,
            "metrics": {k: v.get("challenger") for k, v in report.metrics.items()},
            "data": {
                "train_sha256": (data.get("train") or {}).get("sha256"),
                "eval_sha256": (data.get("eval") or {}).get("sha256"),
            },
            "run_link": lineage.run_link(env),
        },
    )
