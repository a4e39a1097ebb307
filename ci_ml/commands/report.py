"""`ci-ml report`: assemble report.json and report.md from the run directory."""

from __future__ import annotations

import sys
from typing import Any

from ci_ml.errors import PASSED, VERDICT
from ci_ml.publishing import PublishOptions, publish_report
from ci_ml.report import renderer
from ci_ml.report.build import build_report
from ci_ml.training import CARD_NAME
from ci_ml.workspace import Workspace


def stage(ws: Workspace, publish: PublishOptions | None = None) -> dict[str, Any]:
    """Build report.json from whatever stages ran; invalid data stops at validation."""
    run = ws.run
    validation = run.read("validation.json")
    has = {name: run.file(name).is_file() for name in ("metrics.json", "decision.json")}
    card_path = f"challenger/{CARD_NAME}"
    report = build_report(
        report_id=ws.config.report_id,
        name=ws.config.name,
        primary_metric=ws.config.primary_metric,
        validation=validation,
        card=run.read(card_path)
        if validation["passed"] and run.file(card_path).is_file()
        else None,
        evaluation=run.read("metrics.json")
        if validation["passed"] and has["metrics.json"]
        else None,
        decision=run.read("decision.json")
        if validation["passed"] and has["decision.json"]
        else None,
    )
    path = run.write("report.json", report)
    markdown = renderer("markdown")(report)
    run.write_text("report.md", markdown)
    publish_report(report, path, markdown, publish or PublishOptions())
    return report


def verdict_exit_code(report: dict[str, Any]) -> int:
    return PASSED if report["verdict"] == "promote" else VERDICT


def run(ws: Workspace, output_format: str = "text", publish: PublishOptions | None = None) -> int:
    report = stage(ws, publish)
    sys.stdout.write(renderer(output_format)(report))
    return verdict_exit_code(report)
