"""`ci-ml evaluate`: challenger and champion on the same rows; writes metrics.json."""

from __future__ import annotations

from ci_ml.datasets import load_datasets
from ci_ml.errors import PASSED
from ci_ml.output import Output
from ci_ml.records import EvaluationRecord
from ci_ml.registry import open_registry
from ci_ml.stages.evaluate import evaluate
from ci_ml.stages.gate import needs_latency
from ci_ml.workspace import Workspace, show_result

HEADERS = ["metric", "challenger", "champion", "delta"]


def run(ws: Workspace, output_format: str = "text") -> int:
    config = ws.config
    data = load_datasets(config)
    latency = needs_latency(config)
    record = evaluate(
        config, ws.run, open_registry(config, run=ws.run), data, measure_latency=latency
    )
    show_result(view(record), output_format)
    return PASSED


def view(record: EvaluationRecord) -> Output:
    rows = [
        [name, scores.get("challenger"), scores.get("champion"), scores.get("delta")]
        for name, scores in record.metrics.items()
    ]
    return Output(record.to_json(), f"evaluate: {record.summary}", HEADERS, rows)
