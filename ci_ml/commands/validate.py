"""`ci-ml validate`: can the data be trusted? Writes validation.json."""

from __future__ import annotations

from typing import Any

from ci_ml.data import data_sha256, read_table
from ci_ml.datasets import feature_columns
from ci_ml.errors import PASSED, VERDICT, DataError
from ci_ml.workspace import Workspace, say


def stage(ws: Workspace) -> dict[str, Any]:
    config = ws.config
    failures: list[dict[str, Any]] = []
    files: dict[str, Any] = {}
    sources = {"train": config.data.train, "eval": config.data.eval}
    for role, path in sources.items():
        if path is None:
            continue
        try:
            frame = read_table(path)
        except DataError as exc:
            failures.append(_failure("file", None, exc.message))
            continue
        files[role] = {"path": str(path), "sha256": data_sha256(path), "rows": len(frame)}
        failures.extend(_frame_failures(ws, frame, str(path)))
    result = {"passed": not _errors(failures), "failures": failures, "warnings": [], "files": files}
    ws.run.write("validation.json", result)
    return result


def _frame_failures(ws: Workspace, frame: Any, source: str) -> list[dict[str, Any]]:
    config = ws.config
    target = config.data.target
    try:
        feature_columns(config, list(frame.columns), source)
    except DataError as exc:
        return [_failure("presence", None, exc.message)]
    missing = frame[target].isna()
    out = []
    if bool(missing.any()):
        rows = [int(i) + 1 for i in missing[missing].index[:5]]  # 1-based data rows
        out.append(
            _failure(
                "not_null",
                target,
                f"{source}: target {target!r} is empty in {int(missing.sum())} row(s), "
                f"e.g. data rows {rows}",
            )
        )
    if config.task == "classification" and frame[target].nunique() < 2:
        out.append(_failure("classes", target, f"{source}: target {target!r} has only one class"))
    return out


def _failure(rule: str, column: str | None, message: str) -> dict[str, Any]:
    return {"severity": "error", "rule": rule, "column": column, "message": message}


def _errors(failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in failures if f["severity"] == "error"]


def run(ws: Workspace) -> int:
    result = stage(ws)
    for failure in result["failures"]:
        say(f"{failure['severity']}: {failure['message']}")
    if not result["passed"]:
        say("validate: the data is invalid")
        return VERDICT
    say("validate: data ok")
    return PASSED
