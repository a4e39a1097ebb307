"""`ci-ml rollback`: restore the previous champion (or a chosen version) and log it."""

from __future__ import annotations

from ci_ml.errors import PASSED
from ci_ml.output import Output
from ci_ml.registry import open_registry
from ci_ml.registry.base import Version
from ci_ml.stages.promote import rollback
from ci_ml.workspace import Workspace, show_result, warn_announcement


def run(ws: Workspace, to: int | None = None, reason: str = "", output_format: str = "text") -> int:
    done = rollback(ws.config, open_registry(ws.config), ws.env, to, reason)
    warn_announcement(ws.env, "rollback", done.announcement)
    show_result(view(done.before, done.now), output_format)
    return PASSED


def view(before: Version | None, now: Version) -> Output:
    was = f"version {before.number}" if before else "no champion"
    data = {
        "version": now.number,
        "previous": before.number if before else None,
        "sha256": now.sha256,
        "estimator": now.card.get("estimator"),
    }
    headline = f"rollback: version {now.number} is the champion again (was {was})"
    return Output(data, headline, ["", "champion"], [[k, v] for k, v in data.items()])
