"""`ci-ml rollback`: restore the previous champion (or a chosen version) and log it."""

from __future__ import annotations

from ci_ml import lineage
from ci_ml.errors import PASSED
from ci_ml.registry import open_registry
from ci_ml.registry.base import Who
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, to: int | None = None, reason: str = "") -> int:
    registry = open_registry(ws.config)
    before = registry.champion()
    who = Who(
        lineage.actor(), lineage.now(), lineage.git_state(ws.config.root).get("commit"), reason
    )
    version = registry.rollback(who, to)
    was = f"version {before.number}" if before else "no champion"
    say(f"rollback: version {version.number} is the champion again (was {was})")
    return PASSED
