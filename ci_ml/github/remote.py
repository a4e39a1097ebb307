"""The GitHub repository a git clone's remote names: what a laptop knows in place of
GITHUB_REPOSITORY, so one ci-ml.yaml finds the champion in CI and at a desk."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

# git@github.com:owner/name.git, https://github.com/owner/name(.git), ssh://git@github.com/...
_GITHUB_URL = re.compile(r"(?:^|[@/])github\.com[:/]+([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


def github_remote(folder: Path) -> str | None:
    """The URL of the clone's GitHub remote: `origin` if it is on GitHub, else the first
    that is; None outside a clone, without git, or with no remote on GitHub."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(folder), "remote", "-v"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None  # no git: no remote
    remotes = [line.split()[:2] for line in listed.splitlines() if len(line.split()) >= 2]
    remotes.sort(key=lambda remote: remote[0] != "origin")  # stable: origin first
    return next((url for _, url in remotes if _GITHUB_URL.search(url)), None)


def repository_of(url: str) -> str | None:
    """owner/name of a GitHub remote URL."""
    found = _GITHUB_URL.search(url)
    return f"{found[1]}/{found[2]}" if found else None


def remote_repository(folder: Path) -> str | None:
    """owner/name of the clone's GitHub remote, if it has one."""
    url = github_remote(folder)
    return repository_of(url) if url else None
