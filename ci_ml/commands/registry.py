"""`ci-ml registry list|show|history|pull`: what the registry holds, and fetching it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ci_ml.config import Config
from ci_ml.errors import PASSED
from ci_ml.github.plan import write_step_outputs
from ci_ml.metrics import MetricName
from ci_ml.output import Output, emit
from ci_ml.registry import describe, open_registry
from ci_ml.registry.base import Version, user_version
from ci_ml.registry.pull import Pulled
from ci_ml.registry.pull import pull as registry_pull
from ci_ml.report import numbers
from ci_ml.workspace import Workspace, show_result

AUDIT_HEADERS = ["at", "event", "version", "previous", "verdict", "actor", "commit", "reason"]
HASH_LENGTH = 12  # commits and sha256s, the same length in every table


def list_versions(ws: Workspace, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    champion = registry.champion()
    number = champion.number if champion else None
    entries = [v.to_dict(number) for v in registry.versions()]
    emit(versions_view(ws.config, number, entries), output_format)
    return PASSED


def versions_view(config: Config, champion: int | None, entries: list[dict[str, Any]]) -> Output:
    """`registry list`: the primary metric as shown (a loss as the loss, not `neg_*`)."""
    name = MetricName.of(config.primary_metric, None)
    headers = ["version", "champion", "created", name.display, "estimator", "commit"]
    rows = [_row(entry, name) for entry in entries]
    count = f"{len(entries)} version(s), champion {champion}" if entries else "no versions yet"
    data = {"champion": champion, "versions": entries}
    return Output(data, f"{describe(config.registry)}: {count}", headers, rows)


def _row(entry: dict[str, Any], name: MetricName) -> list[object]:
    value = name.shown(entry["metrics"].get(name.scorer))
    return [
        entry["version"],
        "★" if entry["champion"] else "",
        entry["created_at"],
        None if value is None else numbers.general(value),
        entry["estimator"],
        _short(entry["commit"]),
    ]


def _short(digest: Any) -> str:
    return str(digest or "")[:HASH_LENGTH]


def show(ws: Workspace, number: int | None, output_format: str = "text") -> int:
    registry = open_registry(ws.config)
    version = user_version(registry, number) if number is not None else registry.champion()
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
        ["sha256", _short(version.sha256)],
        ["commit", _short((card.get("git") or {}).get("commit"))],
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
    rows = [[_history_cell(entry, name) for name in AUDIT_HEADERS] for entry in entries]
    headline = f"{describe(config.registry)}: {count}"
    return Output({"audit": entries}, headline, AUDIT_HEADERS, rows)


def _history_cell(entry: dict[str, Any], header: str) -> object:
    """Each entry's verdict; a promotion forced over a blocking verdict says so."""
    value = entry.get(header)
    if header == "commit":
        return _short(value)
    if header == "event" and entry.get("forced"):
        return f"{value} (forced)"
    if header == "verdict" and entry.get("forced"):
        return f"{value}, overridden"
    return value


def pull(ws: Workspace, out: Path, number: int | None = None, output_format: str = "text") -> int:
    """Fetch the champion (or version `number`) into `out`, verified against the registry."""
    pulled = registry_pull(open_registry(ws.config), out, number, describe(ws.config.registry))
    outputs = {"version": str(pulled.version), "sha256": pulled.model_file.sha256}
    write_step_outputs(ws.env.output_path, outputs)
    show_result(pull_view(pulled), output_format)
    return PASSED


def pull_view(pulled: Pulled) -> Output:
    what = "the champion" if pulled.champion else "not the champion"
    sha = pulled.model_file.sha256
    headline = (
        f"pull: version {pulled.version} ({what}), sha256 {sha[:12]}… verified, in {pulled.folder}"
    )
    data = {"folder": str(pulled.folder)} | pulled.to_dict()
    rows: list[list[object]] = [
        ["version", pulled.version],
        ["champion", pulled.champion],
        ["file", pulled.model_file.path.name],
        ["sha256", sha],
    ]
    return Output(data, headline, ["", "pulled"], rows)
