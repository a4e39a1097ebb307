"""`ci-ml rollback`: restore the previous champion (or a chosen version) and log it."""

from __future__ import annotations

from ci_ml.errors import PASSED
from ci_ml.registry import open_registry
from ci_ml.stages.promote import rollback
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, to: int | None = None, reason: str = "") -> int:
    before, now = rollback(ws.config, open_registry(ws.config), ws.env, to, reason)
    was = f"version {before.number}" if before else "no champion"
    say(f"rollback: version {now.number} is the champion again (was {was})")
    return PASSED
