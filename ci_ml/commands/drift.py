"""`ci-ml drift`: has this data drifted from the champion's training data?

Exit 1 when it has (dataset drift, or columns added or removed since the
champion), whatever `drift.action` says: this command answers the question,
for instance to trigger a weekly retrain. Writes drift.json to the run directory
and, in GitHub Actions, the outputs `drift` and `retrain` (true when drifted, or
always unless `drift.retrain_on_drift: true` asks to retrain on drift only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_ml.errors import PASSED, VERDICT
from ci_ml.github.plan import write_step_outputs
from ci_ml.output import Output, emit
from ci_ml.registry import open_registry
from ci_ml.report import common
from ci_ml.stages.validate import Champion, check_drift
from ci_ml.workspace import Workspace, show_result

# What drift.json would say when there is nothing to compare with.
NO_CHAMPION: dict[str, Any] = {
    "champion": None,
    "dataset_drift": False,
    "schema_changed": False,
    "columns": [],
}


def run(ws: Workspace, data: str | None, output_format: str = "text") -> int:
    # in a job that validated first, the champion that validate read (one read per run)
    registry = open_registry(ws.config, run=ws.run)
    champion = registry.champion()
    if champion is None:
        headline = "drift: no champion yet, nothing to compare with"
        show_result(Output(NO_CHAMPION, headline), output_format)
        outputs = {"drift": "false", "retrain": "true", "reason": "no champion yet"}
        write_step_outputs(ws.env.output_path, outputs)
        return PASSED
    path = Path(data) if data else ws.config.data.train
    answer = check_drift(ws.config, Champion(registry, champion), path)
    ws.run.save_drift(answer.result)
    emit(view(answer.result), output_format)
    outputs = {
        "drift": str(answer.drifted).lower(),
        "retrain": str(answer.retrain).lower(),
        "reason": answer.summary,
    }
    write_step_outputs(ws.env.output_path, outputs)
    return VERDICT if answer.drifted else PASSED


def view(result: dict[str, Any]) -> Output:
    rows = common.drift_rows(result)
    return Output(result, common.drift_line(result), common.DRIFT_HEADERS, rows)
