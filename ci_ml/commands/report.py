"""`ci-ml report`: assemble report.json and report.md from the run directory."""

from __future__ import annotations

import functools
import sys

from ci_ml.errors import PASSED, VERDICT
from ci_ml.github.plan import PublishOptions
from ci_ml.github.settings import check_can_post
from ci_ml.registry import open_registry
from ci_ml.report import renderer
from ci_ml.stages.report import report
from ci_ml.workspace import Workspace, report_written, say


def run(ws: Workspace, output_format: str = "text", publish: PublishOptions | None = None) -> int:
    check_can_post(ws.env, publish.github if publish else None)
    registry = functools.partial(open_registry, ws.config, run=ws.run)
    result = report(ws.config, ws.run, registry, ws.env, publish)
    say(report_written(ws.run))
    sys.stdout.write(renderer(output_format)(result.to_json()))
    return PASSED if result.passed else VERDICT
