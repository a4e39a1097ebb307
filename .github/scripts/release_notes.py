"""The notes of one release, from CHANGELOG.md (Keep a Changelog), for the release
workflow: refuses a tag that is not this ci-ml's version or has no changelog section.

    python .github/scripts/release_notes.py v1.0.0 > notes.md
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
VERSION = re.compile(r'^__version__ = "([^"]+)"$', re.MULTILINE)


def package_version() -> str:
    found = VERSION.search((REPO / "ci_ml" / "__init__.py").read_text(encoding="utf-8"))
    if not found:
        raise SystemExit("ci_ml/__init__.py: no __version__ line")
    return found.group(1)


def notes(changelog: str, version: str) -> str:
    """The body of the `## [version]` section, up to the next `## ` heading."""
    heading = re.compile(rf"^## \[{re.escape(version)}\][^\n]*\n", re.MULTILINE)
    found = heading.search(changelog)
    if not found:
        raise SystemExit(f"CHANGELOG.md: no '## [{version}]' section")
    rest = changelog[found.end() :]
    following = re.search(r"^## ", rest, re.MULTILINE)
    body = rest[: following.start()] if following else rest
    body = re.sub(r"^\[[^\]]+\]: .*$", "", body, flags=re.MULTILINE)  # link definitions
    if not body.strip():
        raise SystemExit(f"CHANGELOG.md: the [{version}] section is empty")
    return body.strip() + "\n"


def main(argv: list[str]) -> int:
    tag = argv[0]
    version = package_version()
    if tag != f"v{version}":
        raise SystemExit(f"tag {tag} is not ci-ml's version: ci_ml/__init__.py says {version}")
    sys.stdout.write(notes((REPO / "CHANGELOG.md").read_text(encoding="utf-8"), version))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
