"""`ci-ml promote`: register the challenger and make it champion, if it won.

Compare-and-swap: the champion must still be the one this run compared
against, so two racing runs cannot both win.
"""

from __future__ import annotations

from typing import Any

from ci_ml import lineage
from ci_ml.errors import PASSED, VERDICT, EnvironmentProblem
from ci_ml.publishing import publish_outputs, report_outputs
from ci_ml.registry import open_registry
from ci_ml.registry.base import Version, Who
from ci_ml.training import CARD_NAME
from ci_ml.workspace import Workspace, say


def stage(ws: Workspace, force: bool = False, reason: str = "") -> int | None:
    """The champion's version after promotion, or None when the verdict forbids it.

    Idempotent: promoting the same run twice, or a challenger trained on the
    champion's very data and config, changes nothing.
    """
    report = ws.run.read("report.json")
    if report["verdict"] != "promote" and not force:
        say(f"promote: not promoted, the verdict is {report['verdict']}: {report['reason']}")
        return None
    card = ws.run.read(f"challenger/{CARD_NAME}")
    _require_reported_challenger(report, card)
    registry = open_registry(ws.config)
    champion = registry.champion()
    if champion is not None and _already_champion(report, card, champion):
        say(f"promote: version {champion.number} already holds this model; nothing to do")
        return champion.number
    version = registry.add(ws.run.challenger)
    expected = report.get("champion")
    registry.promote(version.number, expected, _who(ws, report, reason or report["reason"]))
    report["challenger"] = (report.get("challenger") or {}) | {"version": version.number}
    report["promoted"] = version.number
    path = ws.run.write("report.json", report)
    publish_outputs(report_outputs(report, path))  # now with the challenger's version
    return version.number


def _require_reported_challenger(report: dict[str, Any], card: dict[str, Any]) -> None:
    reported = (report.get("challenger") or {}).get("sha256")
    if reported != card["model_file"]["sha256"]:
        raise EnvironmentProblem(
            "challenger/ was retrained after report.json was written; run `ci-ml evaluate`, "
            "`ci-ml gate` and `ci-ml report` again before promoting"
        )


def _already_champion(report: dict[str, Any], card: dict[str, Any], champion: Version) -> bool:
    if report.get("promoted") == champion.number:
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


def _who(ws: Workspace, report: dict[str, Any], reason: str) -> Who:
    lineage_info = report.get("lineage") or {}
    data = lineage_info.get("data") or {}
    return Who(
        actor=lineage.actor(),
        at=lineage.now(),
        commit=(lineage.git_state(ws.config.root)).get("commit"),
        reason=reason,
        details={
            "verdict": report["verdict"],
            "metrics": {k: v.get("challenger") for k, v in report.get("metrics", {}).items()},
            "data": {
                "train_sha256": (data.get("train") or {}).get("sha256"),
                "eval_sha256": (data.get("eval") or {}).get("sha256"),
            },
            "run_link": lineage.run_link(),
        },
    )


def run(ws: Workspace, force: bool = False, reason: str = "") -> int:
    version = stage(ws, force, reason)
    if version is None:
        return VERDICT
    say(f"promote: version {version} is the champion")
    return PASSED
