"""Helpers for tests of ci_ml.github against the fake server."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ml.cli import main
from ci_ml.github import ClientOptions, GitHubSettings, make_client
from tests.fakegithub import FakeGitHub

TOKEN = "ghs_FAKEtoken0123456789abcdefSECRET"
REPO = "octo/demo"
HEAD_SHA = "c0ffee" + "0" * 34

# No pacing, no backoff sleeps, short rate-limit budget: tests stay fast.
FAST = ClientOptions(
    backoff_factor=0,
    max_wait=3.0,
    timeout=5,
    seconds_between_requests=None,
    seconds_between_writes=None,
)


def open_pr(fake: FakeGitHub) -> int:
    return fake.state.add_pull(REPO, head_sha=HEAD_SHA)


def settings_for(fake: FakeGitHub, pr_number: int | None, **changes: Any) -> GitHubSettings:
    """Settings as the runner would give them on a pull_request event."""
    base = GitHubSettings(
        in_actions=True,
        api_url=fake.url,
        token=TOKEN,
        repository=REPO,
        event_name="pull_request",
        pr_number=pr_number,
        head_sha=HEAD_SHA,
        server_url="https://github.invalid",
        run_id="4242",
    )
    return replace(base, **changes)


def repo_of(fake: FakeGitHub, options: ClientOptions = FAST) -> Any:
    """A real PyGithub Repository object talking to the fake."""
    return make_client(settings_for(fake, None), options, lazy=True).get_repo(REPO)


def marked(fake: FakeGitHub, pr_number: int, report_id: str = "model") -> list[dict[str, Any]]:
    marker = f"<!-- ci-ml report: {report_id} -->"
    return [c for c in fake.state.comments(REPO, pr_number) if marker in c["body"]]


# -- API economy: requests of one PR run and one promotion, at a given registry size ---------


@dataclass(frozen=True)
class RunRequests:
    versions: int  # versions in the registry when the PR run starts
    pr_run: int  # API requests of `ci-ml check` on a pull request (comment and status included)
    promotion: int  # API requests of the `ci-ml promote` that follows
    pr_code: int
    promote_code: int
    staged: dict[str, int] = field(default_factory=dict)  # pr-check.yml's steps: requests each
    staged_codes: tuple[int, ...] = ()
    retrain: dict[str, int] = field(default_factory=dict)  # weekly-retrain.yml's first steps

    @property
    def staged_run(self) -> int:
        """API requests of the PR run as pr-check.yml runs it: one process per stage."""
        return sum(self.staged.values())


# workflows/pr-check.yml's steps, each its own `ci-ml` process on one run folder
STAGES = (
    ("validate", ["validate", "-c", "ci-ml.fresh.yaml"]),
    ("train", ["train", "-c", "ci-ml.fresh.yaml"]),
    ("evaluate", ["evaluate", "-c", "ci-ml.fresh.yaml"]),
    ("gate", ["gate", "-c", "ci-ml.fresh.yaml"]),
    ("report", ["report", "-c", "ci-ml.fresh.yaml", "--comment", "update"]),
)
# workflows/weekly-retrain.yml's steps before training, on their own run folder
RETRAIN_STAGES = (
    ("validate", ["validate", "-c", "ci-ml.fresh.yaml"]),
    ("drift", ["drift", "-c", "ci-ml.fresh.yaml"]),
)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def measure_requests(versions: int, workdir: Path) -> RunRequests:
    """Seed a fake GitHub with `versions` versions of examples/diabetes, then count the API
    requests (API and uploads hosts; not the storage host) of a PR run and a promotion."""
    from ci_ml.registry import github_releases

    project = workdir / "diabetes"
    shutil.copytree(EXAMPLES / "diabetes", project, ignore=shutil.ignore_patterns(".ci-ml"))
    for name in ("ci-ml.yaml", "ci-ml.fresh.yaml"):
        config = yaml.safe_load((project / name).read_text())
        config["registry"] = {"backend": "github-releases"}
        (project / name).write_text(yaml.safe_dump(config))
    saved_options = github_releases.CLIENT_OPTIONS
    github_releases.CLIENT_OPTIONS = FAST
    try:
        with FakeGitHub() as fake:
            base = {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN}
            with _environment(base), _inside(project):
                assert main(["check", "--promote"]) == 0
                _add_versions(fake, project, versions - 1)
            pr = open_pr(fake)
            # the action names the job's own token's login: no request to ask who it is
            step = pull_request_env(workdir, pr, CI_ML_TOKEN_LOGIN="github-actions[bot]")
            with _environment(base | step), _inside(project):
                _fresh_process(fake)
                pr_code = main(["check", "-c", "ci-ml.fresh.yaml"])
                pr_run = fake.state.api_requests()
            # its own PR: on the first one the sticky comment may already say the same
            # words (then it is not edited), which would make the count depend on timing
            staged_step = pull_request_env(
                workdir, open_pr(fake), CI_ML_TOKEN_LOGIN="github-actions[bot]"
            )
            with _environment(base | staged_step), _inside(project):
                staged, codes = _staged_run(fake, project, STAGES, "staged-run")
                retrain, _ = _staged_run(fake, project, RETRAIN_STAGES, "retrain-run")
                _fresh_process(fake)
                promote_code = main(["promote", "-c", "ci-ml.fresh.yaml"])
                promotion = fake.state.api_requests()
    finally:
        github_releases.CLIENT_OPTIONS = saved_options
    return RunRequests(versions, pr_run, promotion, pr_code, promote_code, staged, codes, retrain)


def _staged_run(
    fake: FakeGitHub, project: Path, stages: tuple[tuple[str, list[str]], ...], folder: str
) -> tuple[dict[str, int], tuple[int, ...]]:
    """A workflow's stages as fresh processes on a new run folder: requests of each."""
    run = ["--run-dir", str(project / ".ci-ml" / folder)]
    shutil.rmtree(project / ".ci-ml" / "cache", ignore_errors=True)  # a new job's checkout
    counts, codes = {}, []
    for stage, args in stages:
        _fresh_process(fake)
        codes.append(main([*args, *run]))
        counts[stage] = fake.state.api_requests()
    return counts, tuple(codes)


def _fresh_process(fake: FakeGitHub) -> None:
    """As a new CI job: nothing kept in memory, an empty request log."""
    from ci_ml.github import releases

    releases.forget()
    fake.state.requests.clear()


def _add_versions(fake: FakeGitHub, project: Path, count: int) -> None:
    from ci_ml.registry.github_releases import GitHubReleasesRegistry

    registry = GitHubReleasesRegistry.connect(
        settings_for(fake, None), REPO, "diabetes", None, project / ".ci-ml" / "seed", FAST
    )
    challenger = project / ".ci-ml" / "run" / "challenger"
    for _ in range(count):
        registry.add(challenger)


def pull_request_env(
    folder: Path, pr: int, fake: FakeGitHub | None = None, **overrides: str
) -> dict[str, str]:
    """The variables a pull_request run gives a step, its event file written in `folder`
    and the API at `fake` when given; `overrides` replace or add variables ("" empties)."""
    event = folder / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": pr, "head": {"sha": HEAD_SHA}}}))
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_SHA": "e" * 40,  # a merge commit: the head sha comes from the event
        "GITHUB_RUN_ID": "77",
        "GITHUB_SERVER_URL": "https://github.invalid",
        "GITHUB_OUTPUT": str(folder / "output.txt"),
        "GITHUB_STEP_SUMMARY": str(folder / "summary.md"),
    }
    if fake is not None:
        env["GITHUB_API_URL"] = fake.url
    return env | overrides


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)
