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
from typing import Any

from ci_ml import github
from ci_ml.commands.validate import compare_with_profile, drift_summary, drifted
from ci_ml.errors import PASSED, VERDICT, EnvironmentProblem
from ci_ml.registry import open_registry
from ci_ml.report import common
from ci_ml.workspace import Workspace, say


def run(ws: Workspace, data: str | None, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    champion = registry.champion()
    if champion is None:
        say("drift: no champion yet, nothing to compare with")
        _outputs({"drift": "false", "retrain": "true", "reason": "no champion yet"})
        return PASSED
    profile = registry.profile(champion.number)
    if profile is None:
        raise EnvironmentProblem(
            f"champion version {champion.number} has no training profile (trained by an older "
            "ci-ml?); promote a model trained by this version to check drift"
        )
    path = Path(data) if data else ws.config.data.train
    result = compare_with_profile(ws, profile, path) | {"champion": champion.number}
    ws.run.write("drift.json", result)
    _print(result, output_format)
    retrain = bool(result.get("retrain")) or drifted(result)
    _outputs(
        {
            "drift": str(drifted(result)).lower(),
            "retrain": str(retrain).lower(),
            "reason": drift_summary(result),
        }
    )
    return VERDICT if drifted(result) else PASSED


def _print(result: dict[str, Any], output_format: str) -> None:
    if output_format == "json":
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    from tabulate import tabulate

    fmt = "github" if output_format == "markdown" else "simple"
    rows = common.drift_rows(result)
    print(common.drift_line(result))
    print(tabulate(rows, headers=common.DRIFT_HEADERS, tablefmt=fmt, disable_numparse=True))


def _outputs(values: dict[str, str]) -> None:
    settings = github.GitHubSettings.from_env()
    if settings.output_path:
        github.write_outputs(settings.output_path, values)
