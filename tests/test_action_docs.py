"""README.md: the action's inputs and outputs tables are generated from action.yml.

Regenerate after changing action.yml: CI_ML_UPDATE_DOCS=1 pytest tests/test_action_docs.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "README.md"
# read at import: the autouse hermetic_environment fixture drops CI_ML_* before the test
UPDATE = os.environ.get("CI_ML_UPDATE_DOCS") == "1"


def _one_line(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def inputs_table(action: dict[str, Any]) -> str:
    rows = ["| input | default | description |", "|---|---|---|"]
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        shown = f"`{default}`" if default else ""
        rows.append(f"| `{name}` | {shown} | {_one_line(spec['description'])} |")
    return "\n".join(rows)


def outputs_table(action: dict[str, Any]) -> str:
    rows = ["| output | description |", "|---|---|"]
    for name, spec in action["outputs"].items():
        rows.append(f"| `{name}` | {_one_line(spec['description'])} |")
    return "\n".join(rows)


def render(doc: str, action: dict[str, Any]) -> str:
    for section, table in (("inputs", inputs_table(action)), ("outputs", outputs_table(action))):
        pattern = re.compile(rf"(<!-- {section}:start[^>]*-->\n).*?(<!-- {section}:end -->)", re.S)
        assert pattern.search(doc), f"{DOC.name}: no {section}:start/end markers"
        doc = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), doc)
    return doc


def test_tables_match_action_yml() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    doc = DOC.read_text(encoding="utf-8")
    expected = render(doc, action)
    if UPDATE:
        DOC.write_text(expected, encoding="utf-8")
    assert doc == expected, (
        "README.md is out of date with action.yml: "
        "CI_ML_UPDATE_DOCS=1 pytest tests/test_action_docs.py"
    )


def test_the_issue_s_inputs_and_outputs_are_there() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    assert {
        "command",
        "config",
        "working-directory",
        "github-token",
        "report-id",
        "comment",
        "python-version",
        "promote",
    } <= set(action["inputs"])
    assert {
        "verdict",
        "champion-version",
        "challenger-version",
        "primary-metric",
        "delta",
        "report-path",
    } <= set(action["outputs"])
    assert action["runs"]["using"] == "composite"


def test_the_doc_covers_what_users_ask() -> None:
    doc = DOC.read_text(encoding="utf-8")
    for heading in (
        "## Minimal workflow",
        "## Inputs",
        "## Outputs",
        "## Pull requests from forks",
        "## Permissions, and why",
        "## Require the check in branch protection",
    ):
        assert heading in doc
