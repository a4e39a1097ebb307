"""Each job of each shipped workflow asks for exactly the permissions that
docs/github-actions.md's table lists for it, with a reason: nothing more, nothing less."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "github-actions.md"
TEMPLATES = REPO / "ci_ml" / "templates" / "workflows"
SHIPPED = sorted([*(REPO / "workflows").glob("*.yml"), *(REPO / ".github/workflows").glob("*.yml")])
_ROW = re.compile(r"^\| `([^`]+\.yml)` \| (.+?) \| `([a-z-]+: (?:read|write))` \| (.+) \|$")

Grant = tuple[str, str, str]  # workflow path, job, "scope: level"


def documented() -> set[Grant]:
    """The table's rows; a row may name several jobs (`a`, `b`)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Permissions, job by job", 1)[1].split("\n## ", 1)[0]
    grants: set[Grant] = set()
    for line in section.splitlines():
        found = _ROW.match(line)
        if found:
            workflow, jobs, permission, why = found.groups()
            assert why.strip(), f"docs: {workflow} {jobs} {permission} gives no reason"
            grants |= {(workflow, job, permission) for job in re.findall(r"`([^`]+)`", jobs)}
    return grants


def granted(path: Path, name: str) -> set[Grant]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found: set[Grant] = set()
    for job, spec in data["jobs"].items():
        permissions = spec.get("permissions")
        assert isinstance(permissions, dict), f"{name}: job {job} sets no permissions map"
        found |= {(name, job, f"{scope}: {level}") for scope, level in permissions.items()}
    return found


def shipped() -> set[Grant]:
    return {g for path in SHIPPED for g in granted(path, str(path.relative_to(REPO)))}


def test_the_table_is_there() -> None:
    rows = documented()
    assert ("workflows/weekly-retrain.yml", "promote", "contents: write") in rows
    assert len(rows) >= 20


def test_every_granted_permission_is_in_the_table() -> None:
    missing = shipped() - documented()
    assert not missing, f"granted but not in docs/github-actions.md: {sorted(missing)}"


def test_every_documented_permission_is_granted() -> None:
    extra = documented() - shipped()
    assert not extra, f"in docs/github-actions.md but not granted: {sorted(extra)}"


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.yml")), ids=lambda p: p.name)
def test_what_init_writes_asks_for_what_the_table_says(template: Path) -> None:
    as_copy = f"workflows/{template.name}"
    expected = {g for g in documented() if g[0] == as_copy}
    assert granted(template, as_copy) == expected


def test_the_registry_writing_jobs_can_write() -> None:
    # github-releases creates tags, releases and commits: contents: read gets 403.
    for workflow in ("workflows/weekly-retrain.yml", ".github/workflows/weekly-retrain.yml"):
        for job in ("promote", "approve"):
            assert (workflow, job, "contents: write") in shipped()
