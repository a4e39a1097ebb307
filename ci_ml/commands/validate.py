"""`ci-ml validate`: can the data be trusted? Writes validation.json (exit 1 when not)."""

from __future__ import annotations

from ci_ml.errors import PASSED, VERDICT
from ci_ml.output import Output
from ci_ml.records import ValidationRecord
from ci_ml.registry import open_registry
from ci_ml.stages.validate import validate
from ci_ml.workspace import Workspace, log_group, say, show_result

HEADERS = ["severity", "rule", "column", "message"]


def run(ws: Workspace, output_format: str = "text") -> int:
    result = validate(ws.config, ws.run, open_registry(ws.config, run=ws.run, reuse=False), ws.env)
    with log_group(ws.env, f"ci-ml validate: {len(result.failures)} finding(s)", result.failures):
        for entry in result.failures:
            say(f"{entry['severity']}: {entry['message']}")
    show_result(view(result), output_format)
    return PASSED if result.passed else VERDICT


def view(result: ValidationRecord) -> Output:
    verdict = "data ok" if result.passed else f"the data is invalid ({len(result.errors)} errors)"
    headline = f"validate: {verdict}, {len(result.failures)} finding(s)"
    rows = [[entry.get(name) for name in HEADERS] for entry in result.failures]
    return Output(result.to_json(), headline, HEADERS, rows)
