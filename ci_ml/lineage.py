"""Who, when, which commit and which library versions produced an artifact."""

from __future__ import annotations

import getpass
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ci_ml


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def actor() -> str:
    if os.environ.get("GITHUB_ACTOR"):
        return os.environ["GITHUB_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def git_state(folder: Path) -> dict[str, Any]:
    """The commit being built: GITHUB_SHA in Actions, else the local checkout, else none."""
    commit = os.environ.get("GITHUB_SHA") or _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def run_link() -> str | None:
    server, repo, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def library_versions() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {
        "python": platform.python_version(),
        "ci_ml": ci_ml.__version__,
        "scikit_learn": sklearn.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }
