"""`ci-ml evaluate`: challenger and champion on the same rows; writes metrics.json."""

from __future__ import annotations

from ci_ml.datasets import load_datasets
from ci_ml.errors import PASSED
from ci_ml.registry import open_registry
from ci_ml.stages.evaluate import evaluate
from ci_ml.stages.gate import needs_latency
from ci_ml.workspace import Workspace, say


def run(ws: Workspace) -> int:
    config = ws.config
    data = load_datasets(config)
    latency = needs_latency(config)
    record = evaluate(config, ws.run, open_registry(config), data, measure_latency=latency)
    say(f"evaluate: {record.summary}")
    return PASSED
