"""The environment a run happens in, read once when the workspace opens.

The only module that reads `os.environ` (the CLI's entry point aside): GitHub
Actions settings, who runs it, which commit, the run's link. Everything else
receives an `Environment` (the workspace carries one), so a test can hand one
in instead of patching variables.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from ci_ml.github.settings import GitHubSettings


@dataclass(frozen=True)
class Environment:
    """A snapshot of the process's variables, and what ci-ml makes of them."""

    variables: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_os(cls) -> Environment:
        return cls(MappingProxyType(dict(os.environ)))

    @cached_property
    def github(self) -> GitHubSettings:
        """Parsed on first use: a broken event file fails only what needs GitHub."""
        return GitHubSettings.from_env(self.variables)

    @property
    def in_actions(self) -> bool:
        return self.variables.get("GITHUB_ACTIONS") == "true"

    @property
    def actor(self) -> str:
        return self.variables.get("GITHUB_ACTOR") or _login()

    @property
    def commit(self) -> str | None:
        """GITHUB_SHA in Actions; None elsewhere (then the local checkout tells)."""
        return self.variables.get("GITHUB_SHA") or None

    @property
    def output_path(self) -> str | None:
        return self.variables.get("GITHUB_OUTPUT") or None

    @property
    def debug(self) -> bool:
        """RUNNER_DEBUG=1: the job was re-run with debug logging."""
        return self.variables.get("RUNNER_DEBUG") == "1"

    @property
    def run_link(self) -> str | None:
        names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
        server, repo, run = (self.variables.get(k) for k in names)
        return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def current() -> Environment:
    """The process's environment, for library code no workspace reaches (a registry
    backend's defaults, the model card's lineage when training is called directly)."""
    return Environment.from_os()


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"
