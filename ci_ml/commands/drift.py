"""`ci-ml drift`: has this data drifted from the champion's training data?

Exit 1 when it has (dataset drift, or columns added or removed since the
champion), whatever `drift.action` says: this command answers the question,
for instance to trigger a weekly retrain. Writes drift.json to the run directory
and, in GitHub Actions, the outputs `drift` and `retrain` (true when drifted, or
always unless `drift.retrain_on_drift: true` asks to retrain on drift only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ci_ml.errors import PASSED, VERDICT
from ci_ml.github.plan import write_step_outputs
from ci_ml.registry import open_registry
from ci_ml.report import common
from ci_ml.stages.validate import Champion, check_drift
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, data: str | None, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    champion = registry.champion()
    if champion is None:
        say("drift: no champion yet, nothing to compare with")
        outputs = {"drift": "false", "retrain": "true", "reason": "no champion yet"}
        write_step_outputs(ws.env.output_path, outputs)
        return PASSED
    path = Path(data) if data else ws.config.data.train
    answer = check_drift(ws.config, Champion(registry, champion), path)
    ws.run.save_drift(answer.result)
    _print(answer.result, output_format)
    outputs = {
        "drift": str(answer.drifted).lower(),
        "retrain": str(answer.retrain).lower(),
        "reason": answer.summary,
    }
    write_step_outputs(ws.env.output_path, outputs)
    return VERDICT if answer.drifted else PASSED


def _print(result: dict[str, object], output_format: str) -> None:
    if output_format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    from tabulate import tabulate

    fmt = "github" if output_format == "markdown" else "simple"
    print(common.drift_line(result))
    rows = common.drift_rows(result)
    print(tabulate(rows, headers=common.DRIFT_HEADERS, tablefmt=fmt, disable_numparse=True))
