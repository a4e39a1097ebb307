"""GitHub Actions runner files: step outputs and the job summary (no network).

Outputs use the `name<<DELIMITER` form with a random delimiter, so a value can
hold newlines and never end the block early.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUMMARY_LIMIT_BYTES = 1024 * 1024


def write_outputs(path: Path, outputs: Mapping[str, str]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        for name, value in outputs.items():
            delimiter = f"ci_ml_{secrets.token_hex(8)}"
            while delimiter in value:
                delimiter = f"ci_ml_{secrets.token_hex(8)}"
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def report_outputs(report: dict[str, Any], report_path: Path) -> dict[str, str]:
    """What a workflow can read after the step: `steps.<id>.outputs.verdict` and so on."""
    primary = report.get("primary_metric", "")
    entry = report.get("metrics", {}).get(primary, {})
    shown = entry.get("shown", {})
    challenger = report.get("challenger") or {}
    return {
        "verdict": report["verdict"],
        "reason": report["reason"],
        "champion-version": _text(report.get("champion")),
        "challenger-version": _text(challenger.get("version") or report.get("promoted")),
        "primary-metric": _text(primary),
        "champion-value": _text(shown.get("champion")),
        "challenger-value": _text(shown.get("challenger")),
        "delta": _text(shown.get("delta")),
        "report-path": str(report_path),
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def publish_to_runner(report: dict[str, Any], report_path: Path, markdown: str) -> None:
    """Write step outputs and the job summary when running inside GitHub Actions."""
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        write_outputs(Path(output), report_outputs(report, report_path))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        append_summary(Path(summary), markdown)


def append_summary(path: Path, markdown: str) -> None:
    data = markdown.encode("utf-8")
    if len(data) > SUMMARY_LIMIT_BYTES:
        note = b"\n\n_(cut: the job summary holds at most 1 MiB; see report.md)_\n"
        data = data[: SUMMARY_LIMIT_BYTES - len(note)].decode("utf-8", "ignore").encode() + note
    with path.open("ab") as handle:
        handle.write(data)
