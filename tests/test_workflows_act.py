"""The ready-to-copy workflows, run for real by `act` on this host against a local
fake GitHub API, in the example user repository (examples/github-repo, where
`ci-ml init` put them): pr-check on a pull_request event, weekly-retrain on a
schedule event in each mode, a rerun, and a failing run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.act.harness import REPO, ActRun, action_source, git, make_repo, run_act
from tests.fakegithub import FakeGitHub, RepoState

EXAMPLE = REPO / "examples" / "github-repo"
WORKFLOWS = REPO / "workflows"
PR_CHECK = "ci-ml-pr-check.yml"
WEEKLY = "ci-ml-weekly-retrain.yml"
TOKEN = "fake-token-for-act"
PrRun = tuple[ActRun, FakeGitHub, Path, int]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as api:
        yield api


def demo(fake: FakeGitHub) -> RepoState:
    return fake.state.repo("octo/demo")


def plain_issues(fake: FakeGitHub) -> list[dict[str, object]]:
    """Issues that are not pull requests (on GitHub every pull request is an issue too)."""
    return [i for n, i in sorted(demo(fake).issues.items()) if n not in demo(fake).pulls]


def user_repo(base: Path, fetch_data: str | None = None) -> Path:
    """The example user repository, its registry outside the workspace (as a
    github-releases or mlflow registry would be), so runs share it."""
    repo = make_repo(base / "demo", EXAMPLE, {})
    config = yaml.safe_load((repo / "ci-ml.yaml").read_text(encoding="utf-8"))
    config["registry"]["path"] = str(base / "registry")
    (repo / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    if fetch_data is not None:
        script = repo / "scripts" / "fetch-data.sh"
        script.write_text("#!/usr/bin/env bash\nset -euo pipefail\n" + fetch_data)
        script.chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Registry outside the runner")
    return repo


def registry_versions(repo: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ci_ml.cli",
            "registry",
            "list",
            "--json",
            "-c",
            str(repo / "ci-ml.yaml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)
    assert isinstance(data, dict)
    return data


def weekly(repo: Path, fake: FakeGitHub, mode: str | None = None) -> ActRun:
    variables = {"CI_ML_RETRAIN_MODE": mode} if mode else {}
    return run_act(
        repo,
        "schedule",
        WEEKLY,
        {"schedule": "23 5 * * 1"},
        env={"GITHUB_API_URL": fake.url},
        variables=variables,
        secrets={"GITHUB_TOKEN": TOKEN},
    )


# -- weekly-retrain.yml -------------------------------------------------------------------


def test_weekly_auto_promotes_and_a_rerun_does_nothing_new(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    repo = user_repo(tmp_path)
    first = weekly(repo, fake, "auto")
    assert first.code == 0, first.log()[-6000:]
    assert first.job_results() == {"retrain": "success", "promote": "success"}
    assert first.outputs("promote", job="promote")["challenger-version"] == "1"
    assert registry_versions(repo)["champion"] == 1

    again = weekly(repo, fake, "auto")
    assert again.code == 0, again.log()[-6000:]
    assert again.outputs("fresh", job="retrain")["skip"] == "true"
    assert again.job_results() == {"retrain": "success"}  # promote was skipped
    assert [v["version"] for v in registry_versions(repo)["versions"]] == [1]  # type: ignore[attr-defined]
    assert demo(fake).issues == {} and demo(fake).pulls == {}


def test_weekly_pull_request_mode_opens_one_pull_request(tmp_path: Path, fake: FakeGitHub) -> None:
    repo = user_repo(tmp_path)
    fake.allow_pull_requests_from_actions("octo/demo")
    first = weekly(repo, fake)  # the default mode
    assert first.code == 0, first.log()[-6000:]
    assert first.job_results() == {"retrain": "success", "pull-request": "success"}
    [(number, pull)] = demo(fake).pulls.items()
    data_hash = first.outputs("validate", job="retrain")["data-hash"]
    assert pull["head_ref"] == f"ci-ml/retrain-penguins-{data_hash[:12]}"
    assert pull["base_ref"] == "main"
    assert "## ci-ml · penguins" in demo(fake).issues[number]["body"]
    files = {path for branch, path in demo(fake).contents if branch == pull["head_ref"]}
    assert files == {"models/penguins/model-card.json", "models/penguins/report.md"}
    card = json.loads(demo(fake).contents[(pull["head_ref"], "models/penguins/model-card.json")])
    assert card["data"]["train"]["path"] == "data/train.csv"
    assert all("authorization" in r.headers for r in fake.state.requests)
    assert registry_versions(repo)["champion"] is None  # nothing promoted in this mode

    again = weekly(repo, fake)
    assert again.code == 0, again.log()[-6000:]
    assert len(demo(fake).pulls) == 1
    assert fake.state.count("pulls.create") == 1


def test_weekly_failure_opens_one_issue_then_comments_on_it(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    # the user's data pull brings a file without the target column
    repo = user_repo(tmp_path, "cut -d, -f2- data/train.csv > t && mv t data/train.csv\n")
    first = weekly(repo, fake, "auto")
    assert first.code != 0
    assert first.job_results()["retrain"] == "failure"
    assert first.job_results()["report-failure"] == "success"
    [issue] = plain_issues(fake)
    assert issue["labels"] == ["ci-ml-retrain-failure"]
    assert "/actions/runs/" in str(issue["body"])

    weekly(repo, fake, "auto")
    assert len(plain_issues(fake)) == 1
    [comment] = demo(fake).comments.values()
    assert comment["issue"] == issue["number"]


# -- pr-check.yml -------------------------------------------------------------------------


def pull_request_event(repo: Path, fork: bool = False, number: int = 7) -> dict[str, object]:
    sha = git(repo, "rev-parse", "HEAD")
    head_repo = "someone/demo" if fork else "octo/demo"
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": sha, "ref": "feature", "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "repo": {"full_name": "octo/demo"}},
        },
        "repository": {"full_name": "octo/demo"},
    }


@pytest.fixture(scope="module")
def pr_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ActRun, FakeGitHub, Path, int]]:
    """pr-check.yml on a pull_request event, posting to the fake GitHub (real PyGithub)."""
    base = tmp_path_factory.mktemp("pr-check")
    api = FakeGitHub().start()
    try:
        repo = user_repo(base)
        number = api.state.add_pull("octo/demo", head_sha=git(repo, "rev-parse", "HEAD"))
        run = run_act(
            repo,
            "pull_request",
            PR_CHECK,
            pull_request_event(repo, number=number),
            env={"GITHUB_API_URL": api.url},
            secrets={"GITHUB_TOKEN": TOKEN},
        )
        yield run, api, repo, number
    finally:
        api.stop()


def test_pr_check_outputs_summary_and_artifact(pr_run: PrRun) -> None:
    run, _, _, _ = pr_run
    assert run.code == 0, run.log()[-6000:]
    assert run.job_results() == {"check": "success"}
    report = run.outputs("report", job="check")
    assert report["verdict"] == "promote"
    assert report["primary-metric"] == "f1_macro"
    [summary] = run.summaries("check")
    assert "## ci-ml · penguins" in summary
    artifact = run.artifacts / "ci-ml-report"
    assert json.loads((artifact / "report.json").read_text())["verdict"] == "promote"
    assert (artifact / "report.md").is_file()


def test_pr_check_fails_when_the_gate_blocks(tmp_path: Path, fake: FakeGitHub) -> None:
    repo = user_repo(tmp_path)
    seed = subprocess.run(  # a champion trained on this very data
        [sys.executable, "-m", "ci_ml.cli", "check", "--promote", "-c", str(repo / "ci-ml.yaml")],
        capture_output=True,
        text=True,
    )
    assert seed.returncode == 0, seed.stderr
    config = yaml.safe_load((repo / "ci-ml.yaml").read_text(encoding="utf-8"))
    config["gate"][0]["min_delta"] = 0.01  # the PR asks for a real improvement
    (repo / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "Demand an improvement")
    run = run_act(
        repo,
        "pull_request",
        PR_CHECK,
        pull_request_event(repo),
        env={"GITHUB_API_URL": fake.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    assert run.job_results() == {"check": "failure"}
    steps = run.step_results("check")
    assert steps["report"] == "success"  # the report is written and kept either way
    report = run.outputs("report", job="check")
    assert report["verdict"] == "block"
    assert report["champion-version"] == "1"
    assert report["exit-code"] == "1"
    assert steps["verdict"] == "failure"  # the job fails on the last step, by design
    # (its ::error annotation is not asserted: act may drop a step's last output line)
    artifact = run.artifacts / "ci-ml-report" / "report.json"
    assert json.loads(artifact.read_text())["verdict"] == "block"
    [summary] = run.summaries("check")
    assert "**❌ blocked: gate[0] f1_macro min_delta" in summary


def test_pr_check_posts_the_sticky_comment_and_the_status(pr_run: PrRun) -> None:
    _, api, repo, number = pr_run
    [comment] = api.state.comments("octo/demo", number)
    assert comment["body"].startswith("<!-- ci-ml report: ci-ml.yaml -->")
    assert "## ci-ml · penguins" in comment["body"]
    sha = git(repo, "rev-parse", "HEAD")
    [status] = api.state.repo("octo/demo").statuses[sha]
    assert (status["context"], status["state"]) == ("ci-ml/ci-ml.yaml", "success")


def test_the_example_repository_carries_the_shipped_workflows() -> None:
    for name in ("pr-check.yml", "weekly-retrain.yml", "comment-from-fork.yml"):
        copy = EXAMPLE / ".github" / "workflows" / f"ci-ml-{name}"
        assert copy.read_text() == (WORKFLOWS / name).read_text(), f"{copy} is stale: copy it"


# -- comment-from-fork.yml ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fork_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrRun]:
    """pr-check.yml for a PR from a fork: its read-only token gets 403 from GitHub."""
    base = tmp_path_factory.mktemp("fork-check")
    api = FakeGitHub().start()
    try:
        repo = user_repo(base)
        sha = git(repo, "rev-parse", "HEAD")
        number = api.state.add_pull("octo/demo", head_sha=sha, fork=True)
        api.forbid("comments.list")
        api.forbid("statuses.create")
        run = run_act(
            repo,
            "pull_request",
            PR_CHECK,
            pull_request_event(repo, fork=True, number=number),
            env={"GITHUB_API_URL": api.url},
            secrets={"GITHUB_TOKEN": TOKEN},
        )
        api.clear_faults()
        yield run, api, repo, number
    finally:
        api.stop()


def test_fork_pr_check_keeps_its_verdict_and_saves_the_comment(fork_run: PrRun) -> None:
    run, api, _, number = fork_run
    assert run.job_results() == {"check": "success"}  # the 403 changed nothing
    assert api.state.comments("octo/demo", number) == []
    saved = run.artifacts / "ci-ml-report" / "comment"
    assert "## ci-ml · penguins" in (saved / "comment.md").read_text()


@pytest.fixture(scope="module")
def fork_poster(fork_run: PrRun) -> ActRun:
    """The workflow_run after a fork PR's check: it downloads that run's artifact."""
    _, api, repo, _ = fork_run
    sha = git(repo, "rev-parse", "HEAD")
    event = {
        "action": "completed",
        "workflow_run": {
            "id": 4242,
            "name": "ci-ml PR check",
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": sha,
            "head_repository": {"full_name": "someone/demo"},
        },
        "repository": {"full_name": "octo/demo"},
    }
    return run_act(
        repo,
        "workflow_run",
        "ci-ml-comment-from-fork.yml",
        event,
        env={"GITHUB_API_URL": api.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )


def test_fork_poster_downloads_the_report_without_checking_out(fork_poster: ActRun) -> None:
    steps = fork_poster.step_results("comment")
    assert steps["download"] == "success", steps
    assert "post" in steps, steps  # reached: the job's `if:` let a fork's run through
    assert "checkout" not in fork_poster.text  # never the fork's code
    log = fork_poster.log()
    assert "download-artifact stub: ci-ml-report" in log
    assert "report.json" in log


def test_fork_poster_posts_the_saved_comment(fork_poster: ActRun, fork_run: PrRun) -> None:
    _, api, repo, number = fork_run
    assert fork_poster.job_results() == {"comment": "success"}, fork_poster.log()[-4000:]
    [comment] = api.state.comments("octo/demo", number)
    assert comment["body"].startswith("<!-- ci-ml report: ci-ml.yaml -->")
    sha = git(repo, "rev-parse", "HEAD")
    assert api.state.repo("octo/demo").statuses.get(sha, []) == []  # never from a fork's data


# -- the reusable workflows, called from a user's workflow ------------------------------------

CALLER = REPO / "tests" / "act" / "workflows" / "call-reusable.yml"


def caller_repo(tmp_path: Path) -> Path:
    """A user's repository calling the reusable workflows. On GitHub they check the
    action out at their own commit (job.workflow_sha) into .ci-ml-action; act has no
    job.workflow_sha, so the action's files are put there as that checkout would."""
    repo = user_repo(tmp_path)
    shutil.copy(CALLER, repo / ".github" / "workflows" / "call-reusable.yml")
    shutil.copytree(action_source(), repo / ".ci-ml-action")
    git(repo, "add", "-A")
    return repo


def test_reusable_pr_check_runs_and_hands_its_outputs_to_the_caller(
    tmp_path: Path, fake: FakeGitHub
) -> None:
    repo = caller_repo(tmp_path)
    git(repo, "commit", "-q", "-m", "Call the reusable workflows")
    run = run_act(
        repo,
        "pull_request",
        "call-reusable.yml",
        pull_request_event(repo),
        env={"GITHUB_API_URL": fake.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    assert run.code == 0, run.log()[-6000:]
    seen = run.outputs("seen", job="after")
    assert seen["pr-verdict"] == "promote"
    assert seen["pr-metric"] == "f1_macro"
    assert (run.artifacts / "ci-ml-report" / "report.json").is_file()


def test_reusable_retrain_promotes_in_auto_mode(tmp_path: Path, fake: FakeGitHub) -> None:
    repo = caller_repo(tmp_path)
    git(repo, "commit", "-q", "-m", "Call the reusable workflows")
    run = run_act(
        repo,
        "schedule",
        "call-reusable.yml",
        {"schedule": "23 5 * * 1"},
        env={"GITHUB_API_URL": fake.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    assert run.code == 0, run.log()[-6000:]
    seen = run.outputs("seen", job="after")
    assert seen["retrain-verdict"] == "promote"
    assert seen["promoted"] == "1"
    assert registry_versions(repo)["champion"] == 1


# -- promote-on-merge.yml -------------------------------------------------------------------

PROMOTE_ON_MERGE = "ci-ml-promote-on-merge.yml"


def merged_event(repo: Path, number: int) -> dict[str, object]:
    sha = git(repo, "rev-parse", "HEAD")
    event = pull_request_event(repo, number=number)
    pull = dict(event["pull_request"])  # type: ignore[arg-type]
    pull |= {"merged": True, "merge_commit_sha": sha, "merged_by": {"login": "octocat"}}
    return event | {"action": "closed", "pull_request": pull}


def test_promote_on_merge_promotes_the_model_the_check_gated(pr_run: PrRun) -> None:
    check, api, repo, number = pr_run
    gated = json.loads((check.artifacts / "ci-ml-report" / "report.json").read_text())
    assert (check.artifacts / "ci-ml-report" / "challenger" / "model-card.json").is_file()
    run = run_act(
        repo,
        "pull_request_target",
        PROMOTE_ON_MERGE,
        merged_event(repo, number),
        env={"GITHUB_API_URL": api.url},
        secrets={"GITHUB_TOKEN": TOKEN},
    )
    assert run.code == 0, run.log()[-6000:]
    assert run.job_results() == {"promote": "success"}
    assert run.outputs("promote", job="promote")["challenger-version"] == "1"
    listed = registry_versions(repo)
    assert listed["champion"] == 1
    [version] = listed["versions"]  # type: ignore[misc]
    assert version["sha256"] == gated["challenger"]["sha256"]  # nothing retrained
    config = repo / "ci-ml.yaml"
    history = subprocess.run(
        [sys.executable, "-m", "ci_ml.cli", "registry", "history", "--json", "-c", str(config)],
        capture_output=True,
        text=True,
        check=True,
    )
    [entry] = json.loads(history.stdout)["audit"]
    assert (entry["pull_request"], entry["merged_by"]) == (number, "octocat")
    assert entry["merge_commit"] == git(repo, "rev-parse", "HEAD")
    assert "/actions/runs/" in entry["trained_by_run"]
    assert api.state.count("statuses.list") == 1
    notes = [c for c in api.state.comments("octo/demo", number) if "after the merge" in c["body"]]
    assert len(notes) == 1 and "as version 1" in notes[0]["body"]
