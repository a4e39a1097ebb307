"""`ci-ml promote`: register the challenger and make it champion, if it won.

Compare-and-swap: the champion must still be the one this run compared
against, so two racing runs cannot both win.
"""

from __future__ import annotations

from typing import Any

from ci_ml import lineage
from ci_ml.errors import PASSED, VERDICT
from ci_ml.registry import open_registry
from ci_ml.registry.base import Who
from ci_ml.workspace import Workspace, say


def stage(ws: Workspace, force: bool = False, reason: str = "") -> int | None:
    """The new champion's version, or None when the verdict forbids promotion."""
    report = ws.run.read("report.json")
    if report["verdict"] != "promote" and not force:
        say(f"promote: not promoted, the verdict is {report['verdict']}: {report['reason']}")
        return None
    registry = open_registry(ws.config)
    version = registry.add(ws.run.challenger)
    expected = report.get("champion")
    registry.promote(version.number, expected, _who(ws, report, reason or report["reason"]))
    report["challenger"] = (report.get("challenger") or {}) | {"version": version.number}
    report["promoted"] = version.number
    ws.run.write("report.json", report)
    return version.number


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
