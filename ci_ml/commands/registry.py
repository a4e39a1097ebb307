"""`ci-ml registry list|show|history`: what the registry holds."""

from __future__ import annotations

import json
import sys
from typing import Any

from tabulate import tabulate

from ci_ml.errors import PASSED
from ci_ml.registry import describe, open_registry
from ci_ml.workspace import Workspace


def list_versions(ws: Workspace, as_json: bool = False) -> int:
    registry = open_registry(ws.config)
    champion = registry.champion()
    number = champion.number if champion else None
    rows = [v.to_dict(number) for v in registry.versions()]
    if as_json:
        _print_json({"champion": number, "versions": rows})
        return PASSED
    if not rows:
        print(f"{describe(ws.config.registry)}: no versions yet")
        return PASSED
    table = [_row(r, ws.config.primary_metric) for r in rows]
    headers = ["version", "champion", "created", ws.config.primary_metric, "estimator", "commit"]
    print(tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True))
    return PASSED


def _row(entry: dict[str, Any], primary: str) -> list[str]:
    value = entry["metrics"].get(primary)
    return [
        str(entry["version"]),
        "★" if entry["champion"] else "",
        entry["created_at"],
        "–" if value is None else f"{value:.4g}",
        str(entry["estimator"] or "–"),
        (entry["commit"] or "–")[:12],
    ]


def show(ws: Workspace, number: int | None, as_json: bool = True) -> int:
    registry = open_registry(ws.config)
    version = registry.version(number) if number is not None else registry.champion()
    if version is None:
        print(f"{describe(ws.config.registry)}: no champion yet")
        return PASSED
    _print_json({"version": version.number, "sha256": version.sha256, "card": version.card})
    return PASSED


def history(ws: Workspace, as_json: bool = False) -> int:
    entries = open_registry(ws.config).audit_log()
    if as_json:
        _print_json({"audit": entries})
        return PASSED
    if not entries:
        print(f"{describe(ws.config.registry)}: no promotions or rollbacks yet")
        return PASSED
    headers = ["at", "event", "version", "previous", "actor", "commit", "reason"]
    rows = [[str(e.get(h) if e.get(h) is not None else "–") for h in headers] for e in entries]
    print(tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True))
    return PASSED


def _print_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
