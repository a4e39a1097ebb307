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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import lineage
from ci_ml.bundle import INPUT_EXAMPLE, SPARK_PIPELINE
from ci_ml.errors import CiMlError, EnvironmentProblem
from ci_ml.events import Announcement, ChampionEvent, Delivery, announce
from ci_ml.github.plan import report_outputs, write_step_outputs
from ci_ml.records import Report
from ci_ml.registry.base import MissingVersion, Who, unknown_version
from ci_ml.rundir import write_json_atomic

LOGS_MODELS = ("mlflow",)  # backends that log an MLflow model with signature and example
EXAMPLE_ROWS = 5

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
    announcement: Announcement = field(default_factory=Announcement)

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
    details: Mapping[str, Any] | None = None,
) -> Promotion:
    """Idempotent: promoting the same run twice, or a challenger trained on the
    champion's very data and config, changes nothing. `details` join the audit entry
    (the merged PR, its merge commit, who merged, the run that trained the model)."""
    report = run.load(Report)
    if report.verdict != "promote" and not force:
        return Promotion(report, None)
    card = run.read_challenger_card()
    _require_reported_challenger(report, card)
    champion = registry.champion()
    if champion is not None and _already_champion(report, card, champion):
        return Promotion(report, champion.number, unchanged=True)
    with _with_metrics(config, run, report) as folder:
        version = registry.add(folder)
    who = _who(config, env, report, reason or report.reason)
    who.details["forced"] = report.verdict != "promote"  # promoted over a blocking verdict
    who.details.update(details or {})
    registry.promote(version.number, report.champion, who)
    report.challenger = (report.challenger or {}) | {"version": version.number}
    report.promoted = version.number
    path = run.save(report)
    event = _event(config, env, ("promote", version, report.champion), who)
    announced = tell(config, registry, env, event)
    outputs = report_outputs(report.to_json(), path) | {"event": announced.status}
    write_step_outputs(env.output_path, outputs)
    return Promotion(report, version.number, announcement=announced)


@dataclass(frozen=True)
class Rollback:
    """The champion before and after a rollback, and whether deploy jobs were told."""

    before: Version | None
    now: Version
    announcement: Announcement = field(default_factory=Announcement)


def rollback(
    config: Config, registry: Registry, env: Environment, to: int | None, reason: str
) -> Rollback:
    """Restore `to` or the previous champion, log it and announce it."""
    before = registry.champion()
    commit = lineage.git_state(config.root, env).get("commit")
    who = Who(lineage.actor(env), lineage.now(), commit, reason)
    now = _rolled_back(registry, who, to)
    previous = before.number if before else None
    announced = tell(config, registry, env, _event(config, env, ("rollback", now, previous), who))
    write_step_outputs(
        env.output_path, {"champion-version": str(now.number), "event": announced.status}
    )
    return Rollback(before, now, announced)


def _rolled_back(registry: Registry, who: Who, to: int | None) -> Version:
    """The rollback; `--to` a version the registry lacks is the user's mistake (exit 2)."""
    try:
        return registry.rollback(who, to)
    except MissingVersion as missing:
        if missing.number != to:
            raise
        raise unknown_version(registry, missing) from missing


def tell(
    config: Config, registry: Registry, env: Environment, event: ChampionEvent
) -> Announcement:
    """Announce a champion change when `events:` asks; the audit log records the outcome.
    The change itself stands whatever happens here."""
    if not config.events.wanted(config.registry.backend):
        return Announcement()
    announced = announce(config.events, env, event)
    try:
        registry.note(announced.audit(event))
    except CiMlError as exc:  # the change stands; say the record is missing
        failed = Delivery(
            "audit", False, f"the announce audit entry was not written: {exc.message}"
        )
        return Announcement((*announced.deliveries, failed))
    return announced


def _event(
    config: Config, env: Environment, change: tuple[str, Version, int | None], who: Who
) -> ChampionEvent:
    action, version, previous = change
    return ChampionEvent(
        model=config.registry.model_name,
        action=action,
        version=version.number,
        previous=previous,
        sha256=version.sha256,
        report=lineage.run_link(env),
        actor=who.actor,
        registry=config.registry.backend,
        at=who.at,
    )


@contextlib.contextmanager
def _with_metrics(config: Config, run: RunDir, report: Report) -> Iterator[Path]:
    """A copy of challenger/ (hard links where possible) whose card holds the metrics."""
    staging = Path(tempfile.mkdtemp(prefix=".registering-", dir=run.path))
    try:
        folder = staging / run.challenger.name
        shutil.copytree(run.challenger, folder, copy_function=_link_or_copy)
        card = run.read_challenger_card()
        card["metrics"] = {k: v.get("challenger") for k, v in report.metrics.items()}
        write_json_atomic(folder / run.challenger_card.name, card)  # a new file, not the link
        if config.registry.backend in LOGS_MODELS and _logged_as_mlflow_model(card):
            _write_input_example(config, folder / INPUT_EXAMPLE)
        yield folder
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _logged_as_mlflow_model(card: dict[str, Any]) -> bool:
    """A Spark ML folder is stored without an MLflow model, so it needs no example rows
    (reading them would load the eval data onto the runner)."""
    return (card.get("model_file") or {}).get("format") != SPARK_PIPELINE


def _write_input_example(config: Config, path: Path) -> None:
    """The first eval rows, as the model takes them: the signature and example MLflow
    logs with the version."""
    from ci_ml.datasets import load_datasets
    from ci_ml.training import model_features

    rows = model_features(load_datasets(config).x_eval.head(EXAMPLE_ROWS))
    rows.reset_index(drop=True).to_json(path, orient="table", index=False)


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
