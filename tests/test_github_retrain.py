"""The weekly retrain's pull request and issues (`ci-ml retrain-pr`, `ci-ml failure-issue`),
through real PyGithub against the fake GitHub."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ci_ml.cli import main
from ci_ml.commands import failure_issue, retrain_pr
from ci_ml.environment import Environment
from ci_ml.github import make_client
from ci_ml.github.client import CallContext, GitHubCallFailed
from ci_ml.github.issues import IssueNote, issue_marker, open_or_comment
from ci_ml.github.retrain import (
    FAILURE_LABEL,
    PR_SETTING,
    REFUSED_LABEL,
    RetrainProposal,
    propose_retrain,
)
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, TOKEN, repo_of, settings_for

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONTEXT = CallContext(FAST, TOKEN, "schedule")
BASE_SHA = "5" * 40


def proposal(**changes: object) -> RetrainProposal:
    fields: dict[str, object] = {
        "name": "penguins",
        "reason": "accuracy +0.020, significant",
        "data_hash": "ab" * 32,
        "base": "main",
        "head_sha": BASE_SHA,
        "files": {"models/penguins/model-card.json": b"{}", "models/penguins/report.md": b"# r"},
        "report_markdown": "## ci-ml · penguins\n\nthe report",
        "run_url": "https://github.invalid/octo/demo/actions/runs/9",
        "artifact_url": "https://github.invalid/octo/demo/actions/runs/9/artifacts/33",
    }
    return RetrainProposal(**(fields | changes))  # type: ignore[arg-type]


def issues(fake: FakeGitHub, label: str) -> list[dict[str, object]]:
    demo = fake.state.repo(REPO)
    return [i for n, i in demo.issues.items() if n not in demo.pulls and label in i["labels"]]


# -- the pull request ----------------------------------------------------------------------


def test_opens_one_pull_request_per_data(fake_github: FakeGitHub) -> None:
    fake_github.allow_pull_requests_from_actions(REPO)
    first = propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert first.action == "opened"
    demo = fake_github.state.repo(REPO)
    pull = demo.pulls[first.number]
    assert pull["head_ref"] == "ci-ml/retrain-penguins-" + "ab" * 6
    assert pull["base_ref"] == "main"
    assert demo.refs["refs/heads/" + pull["head_ref"]] == BASE_SHA
    body = demo.issues[first.number]["body"]
    assert "## ci-ml · penguins" in body and "actions/runs/9" in body
    assert demo.contents[(pull["head_ref"], "models/penguins/report.md")] == b"# r"

    again = propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert (again.action, again.number) == ("exists", first.number)
    assert fake_github.state.count("pulls.create") == 1


def test_a_branch_left_by_an_earlier_try_is_reused_and_its_files_updated(
    fake_github: FakeGitHub,
) -> None:
    fake_github.allow_pull_requests_from_actions(REPO)
    branch = proposal().branch
    fake_github.state.repo(REPO).refs[f"refs/heads/{branch}"] = BASE_SHA
    fake_github.state.repo(REPO).contents[(branch, "models/penguins/report.md")] = b"old"
    done = propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert done.action == "opened"
    assert fake_github.state.repo(REPO).contents[(branch, "models/penguins/report.md")] == b"# r"


def test_a_transient_422_on_the_branch_is_retried(fake_github: FakeGitHub) -> None:
    fake_github.allow_pull_requests_from_actions(REPO)
    fake_github.ref_update_failed("refs.create")
    done = propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert done.action == "opened"
    assert fake_github.state.count("refs.create") == 2


def test_refused_pull_request_becomes_one_issue_and_nothing_is_lost(
    fake_github: FakeGitHub,
) -> None:
    # The fake starts as a new repository: Actions may not open pull requests.
    first = propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert first.action == "refused"
    assert fake_github.state.repo(REPO).pulls == {}
    [issue] = issues(fake_github, REFUSED_LABEL)
    body = str(issue["body"])
    assert body.startswith(issue_marker("retrain-pr-refused/penguins"))
    assert PR_SETTING in body and "Allow GitHub Actions to create and approve" in body
    assert "actions/runs/9/artifacts/33" in body  # the kept model and its report
    assert "## ci-ml · penguins" in body
    assert issue["user"] == "github-actions[bot]"
    branch = proposal().branch
    assert (branch, "models/penguins/model-card.json") in fake_github.state.repo(REPO).contents

    second = propose_retrain(repo_of(fake_github), proposal(run_url="https://x/runs/10"), CONTEXT)
    assert (second.action, second.number) == ("refused", first.number)
    assert len(issues(fake_github, REFUSED_LABEL)) == 1
    [comment] = fake_github.state.comments(REPO, first.number)
    assert "https://x/runs/10" in comment["body"]


def test_a_read_only_token_names_the_permission(fake_github: FakeGitHub) -> None:
    fake_github.token(TOKEN, permissions={"contents": "read", "pull-requests": "write"})
    with pytest.raises(GitHubCallFailed, match="contents: write") as failed:
        propose_retrain(repo_of(fake_github), proposal(), CONTEXT)
    assert failed.value.status == 403
    assert TOKEN not in str(failed.value)


# -- the issue, found again by marker and author --------------------------------------------


def test_failure_issue_opens_once_then_comments(fake_github: FakeGitHub) -> None:
    env = Environment(
        {"GITHUB_REPOSITORY": REPO, "GITHUB_API_URL": fake_github.url, "GITHUB_TOKEN": TOKEN}
        | {"GITHUB_SERVER_URL": "https://github.invalid", "GITHUB_RUN_ID": "51"}
    )
    assert failure_issue.run("", env, FAST) == 0
    [issue] = issues(fake_github, FAILURE_LABEL)
    assert "actions/runs/51" in str(issue["body"])
    assert failure_issue.run("the data pull failed", env, FAST) == 0
    assert len(issues(fake_github, FAILURE_LABEL)) == 1
    [comment] = fake_github.state.comments(REPO, int(str(issue["number"])))
    assert "the data pull failed" in comment["body"]


def test_someone_elses_issue_with_the_marker_is_left_alone(fake_github: FakeGitHub) -> None:
    note = IssueNote("retrain-failure", "ci-ml weekly retrain failed", "it failed", FAILURE_LABEL)
    quoted = f"{issue_marker('retrain-failure')}\nquoting ci-ml"
    theirs = fake_github.state.add_issue(REPO, "mine", quoted, "mallory", (FAILURE_LABEL,))
    done = open_or_comment(repo_of(fake_github), note, CONTEXT)
    assert done.action == "opened" and done.number != theirs
    assert fake_github.state.comments(REPO, theirs) == []
    assert fake_github.state.repo(REPO).issues[theirs]["body"] == quoted


def test_the_oldest_of_two_racing_issues_is_the_one(fake_github: FakeGitHub) -> None:
    note = IssueNote("retrain-failure", "t", "again", FAILURE_LABEL)
    body = f"{issue_marker('retrain-failure')}\nfirst"
    older = fake_github.state.add_issue(REPO, "t", body, "github-actions[bot]", (FAILURE_LABEL,))
    fake_github.state.add_issue(REPO, "t", body, "github-actions[bot]", (FAILURE_LABEL,))
    assert open_or_comment(repo_of(fake_github), note, CONTEXT).number == older


# -- the command, on a real run folder -------------------------------------------------------


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """examples/penguins after `ci-ml check`: its run folder is what a retrain leaves."""
    project = tmp_path_factory.mktemp("retrain") / "penguins"
    shutil.copytree(EXAMPLES / "penguins", project, ignore=shutil.ignore_patterns(".ci-ml"))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        assert main(["check"]) == 0
    yield project / ".ci-ml" / "run"


def command_env(fake: FakeGitHub, tmp_path: Path) -> Environment:
    return Environment(
        {
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": fake.url,
            "GITHUB_TOKEN": TOKEN,
            "GITHUB_REF_NAME": "main",
            "GITHUB_SHA": BASE_SHA,
            "GITHUB_SERVER_URL": "https://github.invalid",
            "GITHUB_RUN_ID": "9",
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        }
    )


def test_retrain_pr_command_reads_the_run_folder(
    retrained: Path, fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.allow_pull_requests_from_actions(REPO)
    assert retrain_pr.run(str(retrained), "", command_env(fake_github, tmp_path), FAST) == 0
    [(number, pull)] = fake_github.state.repo(REPO).pulls.items()
    data_hash = json.loads((retrained / "validation.json").read_text())["data_hash"]
    assert pull["head_ref"] == f"ci-ml/retrain-penguins-{data_hash[:12]}"
    card = fake_github.state.repo(REPO).contents[
        (pull["head_ref"], "models/penguins/model-card.json")
    ]
    assert card == (retrained / "challenger" / "model-card.json").read_bytes()
    assert f"pull-request={number}\n" in (tmp_path / "output.txt").read_text()


def test_retrain_pr_command_refused_exits_0_with_the_issue_as_output(
    retrained: Path, fake_github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = command_env(fake_github, tmp_path)
    assert retrain_pr.run(str(retrained), "https://a/artifacts/1", env, FAST) == 0
    [issue] = issues(fake_github, REFUSED_LABEL)
    assert f"issue={issue['number']}\n" in (tmp_path / "output.txt").read_text()
    assert "::warning title=ci-ml::GitHub refused" in capsys.readouterr().err


def test_retrain_pr_without_a_run_folder_is_an_environment_error(
    tmp_path: Path, fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_REPOSITORY", REPO)
        patch.setenv("GITHUB_TOKEN", TOKEN)
        patch.setenv("GITHUB_API_URL", fake_github.url)
        assert main(["retrain-pr", "--run-dir", str(tmp_path / "nothing")]) == 3
    err = capsys.readouterr().err
    assert "ci-ml: error:" in err and "Traceback" not in err
    assert fake_github.state.api_requests() == 0


def test_a_github_app_token_opens_the_pull_request_and_finds_its_own_issue(
    fake_github: FakeGitHub,
) -> None:
    # The setting is off (a new repository), but it concerns GITHUB_TOKEN only: an
    # app's token opens the PR, which then runs the repository's PR checks.
    app_token = "ghs_APPinstallation0123456789token"
    fake_github.token(app_token, login="ci-ml-app[bot]")
    repo = make_client(replace(settings_for(fake_github, None), token=app_token), FAST)
    context = CallContext(FAST, app_token, "schedule")

    opened = propose_retrain(repo.get_repo(REPO), proposal(), context)
    assert opened.action == "opened"
    [pull] = fake_github.state.repo(REPO).pulls.values()
    assert pull["head_ref"] == proposal().branch

    note = IssueNote("weekly/penguins", "ci-ml: retraining failed", "run 1", FAILURE_LABEL)
    first = open_or_comment(repo.get_repo(REPO), note, context)
    again = open_or_comment(repo.get_repo(REPO), note, context)
    assert (first.action, again.action, again.number) == ("opened", "commented", first.number)
    [issue] = issues(fake_github, FAILURE_LABEL)
    assert issue["user"] == "ci-ml-app[bot]"
