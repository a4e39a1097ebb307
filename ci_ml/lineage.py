"""Who, when, which commit and which library versions produced an artifact."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ci_ml
from ci_ml.environment import Environment, current


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def actor(env: Environment | None = None) -> str:
    return (env or current()).actor


def git_state(folder: Path, env: Environment | None = None) -> dict[str, Any]:
    """The commit being built: GITHUB_SHA in Actions, else the local checkout, else none."""
    commit = (env or current()).commit or _git(folder, "rev-parse", "HEAD")
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


def run_link(env: Environment | None = None) -> str | None:
    return (env or current()).run_link


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
