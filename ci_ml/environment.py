"""The environment a run happens in, read once when the workspace opens.

The only module that reads `os.environ` (the CLI's entry point aside; and
ci_ml/action_env.py, which runs before ci-ml is installed): GitHub Actions settings
(`GitHubSettings`, what ci_ml.github posts with), who runs it, which commit, the
run's link, the MLflow server and the Spark Connect URL. Everything else receives an
`Environment` (the workspace carries one), so a test can hand one in instead of
patching variables. `export_defaults` is the one place ci-ml writes variables, for
client libraries that read their settings only from the process's environment.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from ci_ml.errors import EnvironmentProblem

DEFAULT_API_URL = "https://api.github.com"
PR_EVENTS = ("pull_request", "pull_request_target")
MLFLOW_SECRETS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")


@dataclass(frozen=True)
class MlflowSettings:
    """What the MLflow backend takes from the environment. The client reads the
    credentials itself; ci-ml keeps their values only to keep them out of messages."""

    tracking_uri: str | None = None  # MLFLOW_TRACKING_URI
    secrets: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GitHubSettings:
    """What ci-ml needs from the Actions environment. The token never shows in repr."""

    in_actions: bool = False
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)
    repository: str = ""  # owner/name
    event_name: str = ""
    pr_number: int | None = None
    head_sha: str = ""  # PR head, or workflow_run head: GITHUB_SHA is a merge commit there
    server_url: str = "https://github.com"
    run_id: str = ""
    job: str = ""  # the job's id in its workflow, for "add permissions to job X"
    # who the token writes as, when known without asking GitHub (CI_ML_TOKEN_LOGIN: the
    # action sets github-actions[bot] for the job's own token)
    token_login: str = ""
    output_path: Path | None = None
    summary_path: Path | None = None

    @property
    def run_url(self) -> str:
        if not (self.run_id and self.repository):
            return ""
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, token: str | None = None
    ) -> GitHubSettings:
        """Read the runner's variables (default: the process's, through ci_ml.environment);
        `token` wins over INPUT_GITHUB-TOKEN and GITHUB_TOKEN."""
        env = os.environ if env is None else env
        event_name = env.get("GITHUB_EVENT_NAME", "")
        pr_number, head_sha = _event_refs(event_name, env.get("GITHUB_EVENT_PATH", ""))
        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            token=token or _token_from(env),
            repository=env.get("GITHUB_REPOSITORY", ""),
            event_name=event_name,
            pr_number=pr_number,
            head_sha=head_sha or env.get("GITHUB_SHA", ""),
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
            job=env.get("GITHUB_JOB", ""),
            token_login=env.get("CI_ML_TOKEN_LOGIN", "").strip(),
            output_path=_path_or_none(env.get("GITHUB_OUTPUT")),
            summary_path=_path_or_none(env.get("GITHUB_STEP_SUMMARY")),
        )


def _token_from(env: Mapping[str, str]) -> str:
    # Actions turns input `github-token` into INPUT_GITHUB-TOKEN (hyphen kept).
    # GH_TOKEN: the GitHub CLI's variable, which many laptops already have
    for name in ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"):
        if env.get(name):
            return env[name]
    return ""


def gh_cli_token() -> str:
    """The token of a logged-in GitHub CLI (`gh auth token`), or "" without one: on a
    laptop, reading the champion from GitHub Releases needs no token set by hand."""
    gh = shutil.which("gh")
    if gh is None:
        return ""
    try:
        done = subprocess.run(
            [gh, "auth", "token"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    token = done.stdout.strip()
    return token if done.returncode == 0 and token and "\n" not in token else ""


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _event_refs(event_name: str, event_path: str) -> tuple[int | None, str]:
    """(PR number, head sha) from a pull_request(_target) or workflow_run event payload."""
    if event_name not in (*PR_EVENTS, "workflow_run") or not event_path:
        return None, ""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        if event_name == "workflow_run":
            return None, str(event["workflow_run"]["head_sha"])
        pull = event["pull_request"]
        return int(pull["number"]), str(pull["head"]["sha"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EnvironmentProblem(
            f"GITHUB_EVENT_PATH {event_path}: expected a {event_name} event JSON with the "
            f"pull request number and head sha, found an unreadable file "
            f"({type(e).__name__}: {e})"
        ) from e


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
    def ref_name(self) -> str:
        """The branch (or tag) the run is for: GITHUB_REF_NAME."""
        return self.variables.get("GITHUB_REF_NAME", "")

    @property
    def debug(self) -> bool:
        """RUNNER_DEBUG=1: the job was re-run with debug logging."""
        return self.variables.get("RUNNER_DEBUG") == "1"

    @property
    def run_link(self) -> str | None:
        names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
        server, repo, run = (self.variables.get(k) for k in names)
        return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None

    @property
    def mlflow(self) -> MlflowSettings:
        secrets = tuple(v for name in MLFLOW_SECRETS if (v := self.variables.get(name)))
        return MlflowSettings(self.variables.get("MLFLOW_TRACKING_URI") or None, secrets)

    @property
    def spark_remote(self) -> str | None:
        """SPARK_REMOTE: the Spark Connect URL, tokens included (never shown as is)."""
        return self.variables.get("SPARK_REMOTE") or None

    def child_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        """The variables for a process ci-ml starts (the user's training command)."""
        return {**self.variables, **extra}


def current() -> Environment:
    """The process's environment, for library code no workspace reaches (a registry
    backend's defaults, the model card's lineage when training is called directly)."""
    return Environment.from_os()


def export_defaults(defaults: Mapping[str, str]) -> None:
    """Set what a client library reads only from the process's variables (MLflow's HTTP
    retries, PySpark's worker interpreter), unless the user set it already."""
    for name, value in defaults.items():
        os.environ.setdefault(name, value)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"
