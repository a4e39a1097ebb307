"""`ci-ml check`: validate, train, evaluate, gate and report in one go, locally."""

from __future__ import annotations

import sys

from ci_ml import preload
from ci_ml.datasets import load_datasets
from ci_ml.errors import PASSED, VERDICT
from ci_ml.github.plan import PublishOptions
from ci_ml.github.settings import check_can_post
from ci_ml.registry import open_registry
from ci_ml.report import renderer
from ci_ml.stages import evaluate, gate, promote, report, train, validate
from ci_ml.training import check_setup
from ci_ml.workspace import Workspace, report_written, say, warn_announcement


def run(
    ws: Workspace,
    do_promote: bool = False,
    output_format: str = "text",
    publish: PublishOptions | None = None,
) -> int:
    config, folder = ws.config, ws.run
    preload.while_checking_setup(config)
    check_setup(config)  # fail before any work
    check_can_post(ws.env, publish.github if publish else None)
    gate.gate_rules(config)  # a rule naming an unknown metric fails before any training
    folder.clear_records()
    registry = open_registry(config, run=folder, reuse=False)
    if validate.validate(config, folder, registry, ws.env).passed:
        data = load_datasets(config)
        preload.while_training(config)
        trained = train.fit(config, folder, data)
        say(f"train: {trained.estimator} on {len(data.train)} rows")
        latency = gate.needs_latency(config)
        scored = evaluate.evaluate(config, folder, registry, data, trained, latency)
        say(f"evaluate: {scored.summary}")
        gate.judge(config, folder, scored)
    result = report.report(config, folder, lambda: registry, ws.env, publish)
    say(report_written(folder))
    sys.stdout.write(renderer(output_format)(result.to_json()))
    if not result.passed:
        return VERDICT
    if do_promote:
        done = promote.promote(config, folder, registry, ws.env)
        if done.unchanged:
            say(f"promote: version {done.version} already holds this model; nothing to do")
        say(f"promote: version {done.version} is the champion")
        warn_announcement(ws.env, "promote", done.announcement)
    return PASSED
