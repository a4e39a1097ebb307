"""`ci-ml registry list|show|history`: what the registry holds."""

from __future__ import annotations

from typing import Any

from ci_ml.config import Config
from ci_ml.errors import PASSED
from ci_ml.output import Output, emit
from ci_ml.registry import describe, open_registry
from ci_ml.registry.base import Version
from ci_ml.workspace import Workspace

AUDIT_HEADERS = ["at", "event", "version", "previous", "actor", "commit", "reason"]


def list_versions(ws: Workspace, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    champion = registry.champion()
    number = champion.number if champion else None
    entries = [v.to_dict(number) for v in registry.versions()]
    emit(versions_view(ws.config, number, entries), output_format)
    return PASSED


def versions_view(config: Config, champion: int | None, entries: list[dict[str, Any]]) -> Output:
    primary = config.primary_metric
    headers = ["version", "champion", "created", primary, "estimator", "commit"]
    rows = [_row(entry, primary) for entry in entries]
    count = f"{len(entries)} version(s), champion {champion}" if entries else "no versions yet"
    data = {"champion": champion, "versions": entries}
    return Output(data, f"{describe(config.registry)}: {count}", headers, rows)


def _row(entry: dict[str, Any], primary: str) -> list[object]:
    return [
        entry["version"],
        "★" if entry["champion"] else "",
        entry["created_at"],
        entry["metrics"].get(primary),
        entry["estimator"],
        (entry["commit"] or "")[:12],
    ]


def show(ws: Workspace, number: int | None, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    version = registry.version(number) if number is not None else registry.champion()
    emit(version_view(ws.config, version), output_format)
    return PASSED


def version_view(config: Config, version: Version | None) -> Output:
    if version is None:
        data: dict[str, Any] = {"version": None, "sha256": None, "card": None}
        return Output(data, f"{describe(config.registry)}: no champion yet")
    card = version.card
    data = {"version": version.number, "sha256": version.sha256, "card": card}
    rows: list[list[object]] = [
        ["estimator", card.get("estimator")],
        ["created", version.created_at],
        ["sha256", version.sha256[:12]],
        ["commit", str((card.get("git") or {}).get("commit") or "")[:12]],
        ["training rows", ((card.get("data") or {}).get("train") or {}).get("rows_used")],
    ]
    rows += [[name, value] for name, value in (card.get("metrics") or {}).items()]
    return Output(data, f"version {version.number}: {card.get('estimator')}", ["", "value"], rows)


def history(ws: Workspace, output_format: str = "text") -> int:
    entries = open_registry(ws.config).audit_log()
    emit(history_view(ws.config, entries), output_format)
    return PASSED


def history_view(config: Config, entries: list[dict[str, Any]]) -> Output:
    count = f"{len(entries)} event(s)" if entries else "no promotions or rollbacks yet"
    rows = [[entry.get(name) for name in AUDIT_HEADERS] for entry in entries]
    headline = f"{describe(config.registry)}: {count}"
    return Output({"audit": entries}, headline, AUDIT_HEADERS, rows)
