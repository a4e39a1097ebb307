"""A month in the life of a repository that adopted ci-ml, played by `act` against the
fake GitHub: `ci-ml init`; a first PR (no champion: the baseline); its merge, which
promote-on-merge turns into v1; a better model's PR, compared with v1; its merge, v2;
a weekly retrain on unchanged data (skips); on drifted data with the PR-creation
setting off (an issue) and on (a PR); a rollback to v1 from a maintainer's laptop;
the next PR, compared with v1.

Nothing is kept between events but what GitHub keeps: the git repository (a bare
`origin`), the fake's API state (releases, the champion branch, comments, statuses,
issues) and the Actions artifacts (the artifact stubs' folder, per PR check run). Every
event runs in a fresh clone; the registry is github-releases on the fake. Each job's
token carries the permissions its workflow grants. At each step the test checks what a
user would: the sticky comment, the commit status, the releases, the champion branch,
the audit log and the number of API requests the run made."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.act.harness import REPO, ActRun, git, run_act
from tests.fakegithub import FakeGitHub, RepoState

pytestmark = [pytest.mark.act, pytest.mark.slow]

NAME = "octo/demo"
DATA = REPO / "examples" / "github-repo" / "data"
MARKER = "<!-- ci-ml report: ci-ml.yaml -->"
BRANCH = "refs/heads/ci-ml/penguins/registry"  # the champion branch
INIT_ARGS = ("-t", "species", "--eval", "data/eval.csv", "--name", "penguins")
PR_RUN_BOUND = 15  # benchmarks/README.md: `ci-ml check`'s requests, whatever the registry's size
# pr-check.yml runs the stages as five steps, five processes: validate reads the champion
# and keeps the read in the run folder; evaluate and report reuse it (benchmarks/README.md).
STAGED_PR_RUN_BOUND = PR_RUN_BOUND
# What each workflow's jobs are granted (docs/github-actions.md); act hands every job of
# a run the same token, so a run's token carries the union of its jobs' permissions.
PR_CHECK = {"contents": "read", "pull-requests": "write", "statuses": "write"}
PROMOTE = {"contents": "write", "statuses": "read", "actions": "read", "pull-requests": "write"}
WEEKLY = {"contents": "write", "pull-requests": "write", "issues": "write"}
# The user's data pull: the world drifted (bills 4 mm longer, 1.5 mm deeper), within the schema.
DRIFTED_FETCH = """#!/usr/bin/env bash
set -euo pipefail
python3 - <<'PY'
import csv
for path in ("data/train.csv", "data/eval.csv"):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for column, shift, top in (("bill_length_mm", 4, 62.3), ("bill_depth_mm", 1.5, 22.1)):
            if row[column]:
                row[column] = str(min(float(row[column]) + shift, top))
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
PY
"""


@dataclass
class Run:
    act: ActRun
    requests: list[Any]  # the fake's records of this run's API requests (not storage)

    def count(self, route: str) -> int:
        return sum(1 for r in self.requests if r.route == route)


@dataclass
class Life:
    """The repository's world: GitHub (the fake, the bare origin, the artifacts)."""

    base: Path
    api: FakeGitHub
    origin: Path
    events: int = 0
    pulls: dict[str, int] = field(default_factory=dict)  # branch -> PR number

    @property
    def demo(self) -> RepoState:
        return self.api.state.repo(NAME)

    def checkout(self, ref: str = "main") -> Path:
        """A fresh clone at `ref`, as a runner's checkout (its origin names octo/demo)."""
        self.events += 1
        work = self.base / f"event-{self.events}" / "demo"
        subprocess.run(
            ["git", "clone", "-q", "--branch", ref, str(self.origin), str(work)], check=True
        )
        git(work, "remote", "set-url", "origin", f"https://github.com/{NAME}.git")
        return work

    def push(self, work: Path, ref: str) -> str:
        git(work, "push", "-q", str(self.origin), f"HEAD:refs/heads/{ref}")
        return git(work, "rev-parse", "HEAD")

    def act(self, work: Path, event: str, workflow: str, payload: dict[str, Any], **kw: Any) -> Run:
        permissions = kw.pop("permissions")
        token = f"ghs_job{self.events}token"
        self.api.token(token, permissions=permissions)
        before = len(self.api.state.requests)
        run = run_act(
            work,
            event,
            workflow,
            payload,
            env={"GITHUB_API_URL": self.api.url},
            secrets={"GITHUB_TOKEN": token},
            timeout=600,  # the first run builds the action's environment
            **kw,
        )
        made = [r for r in self.api.state.requests[before:] if r.host != "storage"]
        return Run(run, made)

    def cli(self, work: Path, *args: str, token: str) -> Any:
        """`ci-ml ARGS --json` on a maintainer's laptop: a token, the repository named."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CI_ML_"))}
        env |= {"GITHUB_API_URL": self.api.url, "GITHUB_TOKEN": token, "GITHUB_REPOSITORY": NAME}
        done = subprocess.run(
            [sys.executable, "-m", "ci_ml.cli", *args, "-c", str(work / "ci-ml.yaml")],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    # -- what a user checks -------------------------------------------------------------

    def releases(self) -> list[str]:
        published = [r for r in self.demo.releases.values() if not r.get("draft")]
        return sorted(str(r["tag_name"]) for r in published)

    def sticky(self, number: int) -> dict[str, Any]:
        """The one sticky comment on the PR (two would be a bug)."""
        [comment] = [c for c in self.api.state.comments(NAME, number) if MARKER in c["body"]]
        assert comment["user"] == "github-actions[bot]"
        return comment

    def status(self, sha: str) -> str:
        [status] = [
            s for s in self.demo.statuses.get(sha, []) if s["context"] == "ci-ml/ci-ml.yaml"
        ]
        return str(status["state"])


@pytest.fixture
def life(tmp_path: Path) -> Iterator[Life]:
    with FakeGitHub() as api:
        origin = tmp_path / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
        world = Life(tmp_path, api, origin)
        first = tmp_path / "laptop"
        first.mkdir()
        git(first, "init", "-q", "-b", "main")
        (first / "data").mkdir()
        for name in ("train.csv", "eval.csv"):
            (first / "data" / name).write_bytes((DATA / name).read_bytes())
        git(first, "add", "-A")
        git(first, "commit", "-q", "-m", "The penguins data")
        world.push(first, "main")
        yield world


# -- the events ------------------------------------------------------------------------


def open_pull_request(life: Life, branch: str, change: dict[str, Any] | None = None) -> int:
    """A branch from main that sets the model (`change` merged into ci-ml.yaml's model)."""
    work = life.checkout()
    git(work, "checkout", "-q", "-b", branch)
    if change is None:  # the first PR: what `ci-ml init` writes, with a modest model
        init = subprocess.run(
            [sys.executable, "-m", "ci_ml.cli", "init", "data/train.csv", *INIT_ARGS],
            cwd=work,
            env={k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
            capture_output=True,
            text=True,
        )
        assert init.returncode == 0, init.stderr
        assert "registry github-releases" in init.stderr  # a GitHub remote: CI finds it
        change = {"estimator": "sklearn.tree.DecisionTreeClassifier"}
        change["params"] = {"max_depth": 1, "random_state": 0}
    config = yaml.safe_load((work / "ci-ml.yaml").read_text(encoding="utf-8"))
    config["model"] = change
    (work / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"Model: {change['estimator']}")
    sha = life.push(work, branch)
    number = life.api.state.add_pull(NAME, head_sha=sha, head_ref=branch)
    life.pulls[branch] = number
    return number


def pull_request_event(number: int, sha: str, branch: str) -> dict[str, Any]:
    repo = {"full_name": NAME}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": sha, "ref": branch, "repo": repo},
            "base": {"ref": "main", "repo": repo},
        },
        "repository": repo,
    }


def pr_check(life: Life, branch: str) -> tuple[Run, str]:
    work = life.checkout(branch)
    sha = git(work, "rev-parse", "HEAD")
    event = pull_request_event(life.pulls[branch], sha, branch)
    run = life.act(
        work,
        "pull_request",
        "ci-ml-pr-check.yml",
        event,
        permissions=PR_CHECK,
        artifacts=life.base / "artifacts" / branch,  # this run's, kept by GitHub
    )
    assert run.act.code == 0, run.act.failed_log()[-8000:]
    assert run.act.job_results() == {"check": "success"}
    assert len(run.requests) <= STAGED_PR_RUN_BOUND, [r.route for r in run.requests]
    assert run.count("graphql.query") + run.count("user.get") == 0  # the action knew who
    return run, sha


def merge(life: Life, branch: str, head: str) -> tuple[Run, str]:
    """Merge the PR on main (a merge commit), then promote-on-merge on that event."""
    work = life.checkout()
    number = life.pulls[branch]
    git(work, "fetch", "-q", str(life.origin), branch)
    git(work, "merge", "-q", "--no-ff", "FETCH_HEAD", "-m", f"Merge pull request #{number}")
    merged = life.push(work, "main")
    work = life.checkout()  # the base branch as the promote job checks it out
    event = pull_request_event(number, head, branch) | {"action": "closed"}
    event["pull_request"] |= {
        "merged": True,
        "merge_commit_sha": merged,
        "merged_by": {"login": "octocat"},
    }
    run = life.act(
        work,
        "pull_request_target",
        "ci-ml-promote-on-merge.yml",
        event,
        permissions=PROMOTE,
        artifacts=life.base / "artifacts" / branch,  # the PR check's artifact
    )
    assert run.act.code == 0, run.act.failed_log()[-8000:]
    assert run.act.job_results() == {"promote": "success"}
    return run, merged


def weekly(life: Life) -> Run:
    work = life.checkout()
    run = life.act(work, "schedule", "ci-ml-weekly-retrain.yml", {}, permissions=WEEKLY)
    assert run.act.code == 0, run.act.failed_log()[-8000:]
    return run


def registry(life: Life) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`ci-ml registry list` and `history` from a fresh clone, with a read-only token."""
    reader = "ghp_reader"
    life.api.token(reader, login="alice", installation=False, permissions={"contents": "read"})
    work = life.checkout()
    listed = life.cli(work, "registry", "list", "--json", token=reader)
    history = life.cli(work, "registry", "history", "--json", token=reader)
    return listed, history["audit"]


def champion_head(life: Life) -> str:
    return life.demo.refs[BRANCH]


# -- the month ---------------------------------------------------------------------------


def test_a_month_in_the_life_of_a_repository(life: Life) -> None:
    # Week 1: `ci-ml init` on a branch; its PR has no champion to compare with.
    first = open_pull_request(life, "add-ci-ml")
    check, head = pr_check(life, "add-ci-ml")
    assert check.act.outputs("report", job="check")["champion-version"] == ""
    assert "Challenger vs the baseline" in life.sticky(first)["body"]
    assert "(no champion yet)" in life.sticky(first)["body"]
    assert life.status(head) == "success"
    assert life.releases() == [] and BRANCH not in life.demo.refs
    assert len(check.requests) <= PR_RUN_BOUND  # no champion to read

    promoted, merged = merge(life, "add-ci-ml", head)
    assert promoted.act.outputs("promote", job="promote")["challenger-version"] == "1"
    assert life.releases() == ["ci-ml/penguins/v1"]
    listed, audit = registry(life)
    assert listed["champion"] == 1
    gated = json.loads((life.base / "artifacts/add-ci-ml/ci-ml-report/report.json").read_text())
    assert listed["versions"][0]["sha256"] == gated["challenger"]["sha256"]  # not retrained
    [entry] = audit
    assert (entry["event"], entry["version"], entry["previous"]) == ("promote", 1, None)
    assert (entry["pull_request"], entry["merge_commit"]) == (first, merged)
    assert entry["merged_by"] == "octocat" and "/actions/runs/" in entry["trained_by_run"]
    assert entry["actor"]  # the workflow's actor (act's own name under act)
    notes = [c for c in life.api.state.comments(NAME, first) if "after the merge" in c["body"]]
    assert len(notes) == 1 and "as version 1" in notes[0]["body"]
    v1_head = champion_head(life)

    # Week 2: a better model, compared with v1 on the same rows; merged, it is v2.
    forest = {"estimator": "sklearn.ensemble.RandomForestClassifier"}
    forest["params"] = {"n_estimators": 20, "random_state": 0}
    second = open_pull_request(life, "random-forest", forest)
    check, head = pr_check(life, "random-forest")
    report = check.act.outputs("report", job="check")
    assert (report["verdict"], report["champion-version"]) == ("promote", "1")
    assert float(report["delta"]) > 0
    at_one_version = len(check.requests)
    assert "Challenger vs champion version 1" in life.sticky(second)["body"]
    assert life.status(head) == "success"
    assert len(life.api.state.comments(NAME, first)) == 2  # the first PR's: untouched

    promoted, merged = merge(life, "random-forest", head)
    assert promoted.act.outputs("promote", job="promote")["challenger-version"] == "2"
    assert life.releases() == ["ci-ml/penguins/v1", "ci-ml/penguins/v2"]
    assert life.demo.descends(champion_head(life), v1_head)  # moved forward, not forced
    listed, audit = registry(life)
    assert listed["champion"] == 2
    assert [(e["event"], e["version"], e["pull_request"]) for e in audit] == [
        ("promote", 1, first),
        ("promote", 2, second),
    ]
    assert audit[1]["merge_commit"] == merged

    # Week 3: the scheduled retrain on the same data and config has nothing to do.
    idle = weekly(life)
    assert idle.act.outputs("fresh", job="retrain")["skip"] == "true"
    assert idle.act.job_results() == {"retrain": "success"}
    assert life.releases() == ["ci-ml/penguins/v1", "ci-ml/penguins/v2"]
    assert len(idle.requests) <= PR_RUN_BOUND  # it read the champion, and stopped

    # Week 4: the data drifted. GitHub refuses GITHUB_TOKEN the pull request (the
    # setting is off, as on a new repository): one issue says so; then, allowed, a PR.
    work = life.checkout()
    script = work / "scripts" / "fetch-data.sh"
    script.parent.mkdir()
    script.write_text(DRIFTED_FETCH)
    script.chmod(0o755)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "Fetch this week's data")
    life.push(work, "main")
    refused = weekly(life)
    said = {step: refused.act.outputs(step, job="retrain") for step in ("fresh", "drift", "report")}
    assert refused.act.job_results() == {"retrain": "success", "pull-request": "success"}, said
    assert refused.act.outputs("drift", job="retrain")["drift"] == "true"
    assert refused.act.outputs("report", job="retrain")["verdict"] == "promote"
    [issue] = [i for n, i in life.demo.issues.items() if n not in life.demo.pulls]
    assert issue["labels"] == ["ci-ml-retrain"]
    assert "Allow GitHub Actions to create and approve pull requests" in issue["body"]
    assert refused.count("pulls.create") == 1 and len(life.demo.pulls) == 2

    life.api.allow_pull_requests_from_actions(NAME)
    proposed = weekly(life)
    assert proposed.act.job_results() == {"retrain": "success", "pull-request": "success"}
    [(number, retrain_pr)] = [
        (n, p) for n, p in life.demo.pulls.items() if n not in life.pulls.values()
    ]
    assert str(retrain_pr["head_ref"]).startswith("ci-ml/retrain-penguins-")
    assert "## ci-ml · penguins" in life.demo.issues[number]["body"]
    assert len([i for n, i in life.demo.issues.items() if n not in life.demo.pulls]) == 1
    assert life.releases() == ["ci-ml/penguins/v1", "ci-ml/penguins/v2"]  # nothing promoted

    # v2 misbehaves in production: a maintainer rolls back to v1 from a laptop.
    maintainer = "ghp_maintainer"
    life.api.token(maintainer, login="octocat", installation=False)
    work = life.checkout()
    rolled = life.cli(
        work, "rollback", "--to", "1", "--reason", "v2 misbehaves", "--format", "json",
        token=maintainer,
    )  # fmt: skip
    assert (rolled["version"], rolled["previous"]) == (1, 2)
    listed, audit = registry(life)
    assert listed["champion"] == 1
    assert (audit[-1]["event"], audit[-1]["version"], audit[-1]["previous"]) == ("rollback", 1, 2)
    assert audit[-1]["reason"] == "v2 misbehaves"
    assert audit[-1]["actor"] == getpass.getuser()  # on a laptop: who ran it
    assert life.releases() == ["ci-ml/penguins/v1", "ci-ml/penguins/v2"]  # v2 kept, not champion

    # The next PR is compared with v1, the champion again.
    bigger = {"estimator": "sklearn.ensemble.RandomForestClassifier"}
    bigger["params"] = {"n_estimators": 30, "random_state": 0}
    third = open_pull_request(life, "bigger-forest", bigger)
    check, head = pr_check(life, "bigger-forest")
    assert check.act.outputs("report", job="check")["champion-version"] == "1"
    assert "Challenger vs champion version 1" in life.sticky(third)["body"]
    assert life.status(head) == "success"
    assert len(check.requests) == at_one_version  # two versions now: no more requests
