"""The github-releases registry against the fake GitHub, through the real PyGithub client:
versions as releases, compare-and-swap on the champion branch, faults half-way, the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ml.errors import EnvironmentProblem, IntegrityError
from ci_ml.github import GitHubCallFailed, ReleaseStore
from ci_ml.modelfile import load_model
from ci_ml.registry import github_releases
from ci_ml.registry.base import RegistryRefused, Who
from ci_ml.registry.github_releases import DRAFT_MARK, GitHubReleasesRegistry
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, TOKEN, settings_for
from tests.test_registry_local import trained_folder

WHO = Who(actor="tester", at="2026-01-01T00:00:00+00:00", commit="abc", reason="test")
BRANCH = "refs/heads/ci-ml/demo/registry"
MakeRegistry = Callable[[], GitHubReleasesRegistry]


@pytest.fixture
def make_registry(fake_github: FakeGitHub, tmp_path: Path) -> MakeRegistry:
    """Backend factory (for the shared contract suite too): a registry client on the fake.
    Each call is a separate client, as separate CI jobs would be; all share one repository."""
    counter = iter(range(1000))

    def make() -> GitHubReleasesRegistry:
        from ci_ml.github import releases

        releases.forget()  # a separate CI job: nothing kept in memory from another client
        settings = settings_for(fake_github, None)
        cache = tmp_path / f"cache{next(counter)}"
        return GitHubReleasesRegistry.connect(settings, REPO, "demo", None, cache, FAST)

    return make


@pytest.fixture
def registry(make_registry: MakeRegistry) -> GitHubReleasesRegistry:
    return make_registry()


def releases(fake: FakeGitHub) -> dict[str, bool]:
    """Tag -> draft, for every release on the fake."""
    return {r["tag_name"]: r["draft"] for r in fake.state.repo(REPO).releases.values()}


def asset(fake: FakeGitHub, tag: str, name: str) -> dict[str, Any]:
    state = fake.state.repo(REPO)
    (release,) = [r for r in state.releases.values() if r["tag_name"] == tag]
    (found,) = [
        a for a in state.assets.values() if a["release"] == release["id"] and a["name"] == name
    ]
    return found


# -- the basics ------------------------------------------------------------------------


def test_first_run_has_no_champion_and_no_versions(registry, fake_github):
    assert registry.champion() is None
    assert registry.versions() == [] and registry.audit_log() == []
    asked = [r.status for r in fake_github.state.requests if r.route == "refs.get"]
    assert asked and set(asked) == {404}  # no registry branch yet: no champion, no error


def test_versions_are_published_releases_with_the_model_card_and_record(
    registry, fake_github, tmp_path
):
    folder = trained_folder(tmp_path, "a")
    (folder / "profile.json").write_text('{"rows": 4}')
    first = registry.add(folder)
    second = registry.add(trained_folder(tmp_path, "b"))

    assert (first.number, second.number) == (1, 2)
    assert releases(fake_github) == {"ci-ml/demo/v1": False, "ci-ml/demo/v2": False}
    state = fake_github.state.repo(REPO)
    v1 = next(r["id"] for r in state.releases.values() if r["tag_name"] == "ci-ml/demo/v1")
    names = sorted(a["name"] for a in state.assets.values() if a["release"] == v1)
    assert names == ["model-card.json", "model.skops", "profile.json", "record.json"]
    record = json.loads(asset(fake_github, "ci-ml/demo/v1", "record.json")["content"])
    assert record["version"] == 1 and record["sha256"] == first.sha256
    assert [v.number for v in registry.versions()] == [1, 2]
    assert registry.version(1).card["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert "refs/tags/ci-ml/demo/v1" in fake_github.state.repo(REPO).refs


def test_promote_rollback_and_the_audit_log_on_the_branch(registry, fake_github, tmp_path):
    for name in "abc":
        registry.add(trained_folder(tmp_path, name))
    registry.promote(1, None, WHO)
    registry.promote(2, 1, WHO)
    registry.promote(3, 2, WHO)

    assert registry.champion().number == 3
    assert registry.rollback(WHO).number == 2
    assert registry.rollback(WHO, to=3).number == 3
    events = [(e["event"], e["version"], e["previous"]) for e in registry.audit_log()]
    assert events == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("promote", 3, 2),
        ("rollback", 2, 3),
        ("rollback", 3, 2),
    ]
    files = fake_github.state.repo(REPO).files_at(BRANCH)
    assert json.loads(files["champion.json"])["version"] == 3
    assert files["audit.jsonl"].decode().count("\n") == 5
    model = load_model(registry.model_file(3))
    assert list(model.predict([[0.0], [3.0]])) == [0, 1]


def test_each_pointer_commit_appends_one_audit_line_to_its_parents_log(
    registry, fake_github, tmp_path
):
    registry.add(trained_folder(tmp_path, "a"))
    registry.add(trained_folder(tmp_path, "b"))
    registry.promote(1, None, WHO)
    state = fake_github.state.repo(REPO)
    first_head = state.refs[BRANCH]
    before = state.files_at(BRANCH)["audit.jsonl"]
    registry.promote(2, 1, WHO)

    after = state.files_at(BRANCH)["audit.jsonl"]
    assert after.startswith(before) and after.count(b"\n") == 2
    assert state.objects[state.refs[BRANCH]]["parents"] == [first_head]


def test_promotion_against_a_stale_champion_is_refused(make_registry, tmp_path):
    ours, theirs = make_registry(), make_registry()
    for name in "abc":
        ours.add(trained_folder(tmp_path, name))
    ours.promote(1, None, WHO)
    theirs.promote(2, 1, WHO)  # another run won first

    with pytest.raises(RegistryRefused, match="champion is now version 2"):
        ours.promote(3, 1, WHO)
    assert ours.champion().number == 2
    assert [e["version"] for e in ours.audit_log()] == [1, 2]


def test_rollback_with_nothing_to_go_back_to_is_refused(registry, tmp_path):
    registry.add(trained_folder(tmp_path, "a"))
    registry.promote(1, None, WHO)
    with pytest.raises(RegistryRefused, match="nothing to roll back to"):
        registry.rollback(WHO)
    assert registry.champion().number == 1 and len(registry.audit_log()) == 1


# -- races -----------------------------------------------------------------------------


def _race(racers: list[Callable[[], object]]) -> list[object]:
    """Run each racer in its own thread; return what each returned or raised."""
    results: list[object] = [None] * len(racers)

    def run(i: int) -> None:
        try:
            results[i] = racers[i]()
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(racers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def _in_step(monkeypatch, method: str, parties: int) -> None:
    """Hold every racer at `method` until all got there: they all read the same state."""
    barrier = threading.Barrier(parties, timeout=10)
    original = getattr(GitHubReleasesRegistry, method)

    def waiting(self, *args, **kwargs):
        if not getattr(self, "_waited", False):
            self._waited = True
            barrier.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GitHubReleasesRegistry, method, waiting)


@pytest.mark.parametrize("expected", [None, 1], ids=["first-promotion", "later-promotion"])
def test_racing_promotions_exactly_one_wins(
    make_registry, fake_github, tmp_path, monkeypatch, expected
):
    setup = make_registry()
    setup.add(trained_folder(tmp_path, "base"))
    if expected == 1:
        setup.promote(1, None, WHO)
    numbers = [setup.add(trained_folder(tmp_path, f"r{i}")).number for i in range(4)]
    racers = [make_registry() for _ in numbers]
    _in_step(monkeypatch, "_set_ref", len(racers))

    results = _race(
        [lambda r=r, n=n: r.promote(n, expected, WHO) for r, n in zip(racers, numbers, strict=True)]
    )

    winners = [n for n, result in zip(numbers, results, strict=True) if result is None]
    losers = [result for result in results if result is not None]
    assert len(winners) == 1
    assert all(isinstance(error, RegistryRefused) for error in losers), losers
    assert setup.champion().number == winners[0]
    assert [e["version"] for e in setup.audit_log()][-1] == winners[0]
    assert len(setup.audit_log()) == (1 if expected is None else 2)
    route = "refs.create" if expected is None else "refs.update"
    refused = [r for r in fake_github.state.requests if r.route == route and r.status == 422]
    assert len(refused) == len(racers) - 1  # every loser was refused by the ref update itself


def test_racing_adds_take_different_numbers(make_registry, fake_github, tmp_path, monkeypatch):
    setup = make_registry()
    setup.add(trained_folder(tmp_path, "base"))
    racers = [make_registry() for _ in range(3)]
    folders = [trained_folder(tmp_path, f"r{i}") for i in range(3)]
    _in_step(monkeypatch, "_reserve", len(racers))

    results = _race([lambda r=r, f=f: r.add(f) for r, f in zip(racers, folders, strict=True)])

    assert sorted(v.number for v in results) == [2, 3, 4]
    assert [v.number for v in setup.versions()] == [1, 2, 3, 4]
    taken = [r for r in fake_github.state.requests if r.route == "refs.create" and r.status == 422]
    assert len(taken) == 3  # v2 was taken twice, v3 once: the losers moved on


# -- faults half-way -------------------------------------------------------------------


def _champion_one(registry: GitHubReleasesRegistry, tmp_path: Path) -> None:
    registry.add(trained_folder(tmp_path, "champ"))
    registry.promote(1, None, WHO)


def test_server_dying_mid_upload_leaves_no_version_and_the_champion(
    registry, fake_github, tmp_path
):
    _champion_one(registry, tmp_path)
    head = fake_github.state.repo(REPO).refs[BRANCH]
    # The model file goes up; then every upload dies half-way, retries included.
    fake_github.after("assets.upload", lambda _: fake_github.disconnect("assets.upload", times=99))

    with pytest.raises(GitHubCallFailed, match=r"could not upload model-card\.json"):
        registry.add(trained_folder(tmp_path, "new"))

    assert [v.number for v in registry.versions()] == [1]
    assert releases(fake_github) == {"ci-ml/demo/v1": False}  # the draft was deleted
    assert "refs/tags/ci-ml/demo/v2" not in fake_github.state.repo(REPO).refs
    assert fake_github.state.repo(REPO).refs[BRANCH] == head
    assert registry.champion().number == 1


def test_a_draft_the_dead_server_kept_stays_invisible_and_its_number_is_skipped(
    registry, fake_github, tmp_path
):
    _champion_one(registry, tmp_path)
    fake_github.disconnect("assets.upload", times=99)
    fake_github.fail("releases.delete", status=502, times=None)

    with pytest.raises(GitHubCallFailed):
        registry.add(trained_folder(tmp_path, "new"))
    fake_github.clear_faults()

    assert releases(fake_github) == {"ci-ml/demo/v1": False, "ci-ml/demo/v2": True}
    assert [v.number for v in registry.versions()] == [1]
    assert registry.add(trained_folder(tmp_path, "next")).number == 3
    assert [v.number for v in registry.versions()] == [1, 3]


def test_a_stale_draft_of_a_killed_run_is_deleted_by_the_next_add_and_nothing_else(
    registry, fake_github, tmp_path
):
    _champion_one(registry, tmp_path)
    fake_github.disconnect("assets.upload", times=99)
    fake_github.fail("releases.delete", status=502, times=None)
    with pytest.raises(GitHubCallFailed):
        registry.add(trained_folder(tmp_path, "killed"))
    fake_github.clear_faults()
    state = fake_github.state.repo(REPO)
    theirs = {"body": "a release draft by a person", "tag_name": "ci-ml/demo/v9"}
    ours = next(r for r in state.releases.values() if r["draft"])
    state.releases[999] = ours | {"id": 999, **theirs}
    fresh = registry.add(trained_folder(tmp_path, "fresh")).number
    assert releases(fake_github)["ci-ml/demo/v2"] is True  # not expired: may still be uploading

    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    ours["body"] = DRAFT_MARK + an_hour_ago  # as time passes on a real clock
    registry.add(trained_folder(tmp_path, "later"))
    assert "ci-ml/demo/v2" not in releases(fake_github)
    assert "refs/tags/ci-ml/demo/v2" not in state.refs
    assert releases(fake_github)["ci-ml/demo/v9"] is True  # not ci-ml's: kept
    assert [v.number for v in registry.versions()] == [1, fresh, fresh + 1]


def test_one_dropped_upload_is_retried_from_the_start(registry, fake_github, tmp_path):
    fake_github.disconnect("assets.upload")
    version = registry.add(trained_folder(tmp_path, "a"))
    content = asset(fake_github, "ci-ml/demo/v1", "model.skops")["content"]
    assert hashlib.sha256(content).hexdigest() == version.sha256


def test_an_upload_done_but_answered_502_is_retried_and_accepted(registry, fake_github, tmp_path):
    fake_github.fail_after_acting("assets.upload")  # stored, but the client sees 502, retries
    version = registry.add(trained_folder(tmp_path, "a"))
    uploads = [r.status for r in fake_github.state.requests if r.route == "assets.upload"]
    assert uploads[:2] == [502, 422] and version.number == 1
    assert [v.number for v in registry.versions()] == [1]


def test_an_upload_that_arrives_corrupted_is_not_published(registry, fake_github, tmp_path):
    def corrupt(req) -> None:
        for stored in fake_github.state.repo(REPO).assets.values():
            if stored["name"] == "model.skops":
                stored["content"] = stored["content"][:-1] + b"!"

    fake_github.after("assets.upload", corrupt)
    with pytest.raises(IntegrityError, match=r"uploaded model\.skops came back"):
        registry.add(trained_folder(tmp_path, "a"))
    assert registry.versions() == [] and releases(fake_github) == {}


def test_a_branch_moved_by_someone_else_is_retried_when_the_champion_still_matches(
    registry, fake_github, tmp_path
):
    _champion_one(registry, tmp_path)
    registry.add(trained_folder(tmp_path, "b"))
    state = fake_github.state.repo(REPO)

    def someone_pushes(_req) -> None:  # same files, new commit: the champion is unchanged
        fake_github.push(REPO, BRANCH, state.files_at(BRANCH), "someone else")

    fake_github.after("trees.create", someone_pushes)
    registry.promote(2, 1, WHO)

    assert registry.champion().number == 2
    assert [e["version"] for e in registry.audit_log()] == [1, 2]
    pushed = state.objects[state.refs[BRANCH]]["parents"][0]
    assert state.objects[pushed]["message"] == "someone else"
    assert fake_github.state.count("refs.update") == 2  # refused once, then fast-forwarded


def test_a_protected_branch_is_an_environment_error_not_a_lost_race(
    registry, fake_github, tmp_path
):
    _champion_one(registry, tmp_path)
    registry.add(trained_folder(tmp_path, "b"))
    fake_github.fail(
        "refs.update", status=422, times=None, message="Protected branch update failed"
    )

    with pytest.raises(EnvironmentProblem, match="is it protected"):
        registry.promote(2, 1, WHO)
    assert registry.champion().number == 1 and len(registry.audit_log()) == 1


def test_a_ruleset_refusing_tags_stops_the_add(registry, fake_github, tmp_path):
    fake_github.fail(
        "refs.create", status=422, times=None, message="Cannot create ref due to rules"
    )
    with pytest.raises(EnvironmentProblem, match=r"refused to create refs/tags/ci-ml/demo/v1"):
        registry.add(trained_folder(tmp_path, "a"))
    assert releases(fake_github) == {}


def test_tampered_asset_is_refused_before_loading(registry, fake_github, tmp_path):
    registry.add(trained_folder(tmp_path, "a"))
    stored = asset(fake_github, "ci-ml/demo/v1", "model.skops")
    stored["content"] = stored["content"][:-10]
    with pytest.raises(IntegrityError, match="does not match its record"):
        load_model(registry.model_file(1))


def test_tampered_card_hash_is_refused(make_registry, fake_github, tmp_path):
    make_registry().add(trained_folder(tmp_path, "a"))
    stored = asset(fake_github, "ci-ml/demo/v1", "model-card.json")
    card = json.loads(stored["content"])
    card["model_file"]["sha256"] = "0" * 64
    stored["content"] = json.dumps(card).encode()
    with pytest.raises(IntegrityError, match="differs from the registry record"):
        make_registry().model_file(1)


def test_a_card_naming_a_file_outside_the_cache_is_refused(make_registry, fake_github, tmp_path):
    make_registry().add(trained_folder(tmp_path, "a"))
    stored = asset(fake_github, "ci-ml/demo/v1", "model-card.json")
    card = json.loads(stored["content"])
    card["model_file"]["file"] = "../../escape.skops"
    stored["content"] = json.dumps(card).encode()
    with pytest.raises(IntegrityError, match="not a plain file name"):
        make_registry().model_file(1)
    assert not (tmp_path / "escape.skops").exists()


def test_the_enterprise_prefix_works(fake_ghe, tmp_path):
    store = ReleaseStore(settings_for(fake_ghe, None), REPO, FAST)
    registry = GitHubReleasesRegistry(store, "demo", cache_dir=tmp_path / "cache")
    registry.add(trained_folder(tmp_path, "a"))
    registry.promote(1, None, WHO)
    assert registry.champion().number == 1
    assert any(r.raw_path.startswith("/api/uploads/") for r in fake_ghe.state.requests)


# -- through the CLI -------------------------------------------------------------------


@pytest.fixture
def project(example, fake_github, monkeypatch) -> Path:
    """examples/diabetes with `registry: {backend: github-releases}`, GITHUB_* at the fake."""
    folder = example("diabetes")
    for name in ("ci-ml.yaml", "ci-ml.fresh.yaml"):
        config = yaml.safe_load((folder / name).read_text())
        config["registry"] = {"backend": "github-releases"}
        (folder / name).write_text(yaml.safe_dump(config))
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(github_releases, "CLIENT_OPTIONS", FAST)
    return folder


def _laptop(monkeypatch, tmp_path: Path, gh_token: str | None = None) -> None:
    """No token in the environment, as on a laptop; a logged-in `gh` only when given
    (a stand-in script: the real CLI would need github.com)."""
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB-TOKEN", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    tools = tmp_path / "bin"
    tools.mkdir()
    if gh_token:
        gh = tools / "gh"
        gh.write_text(
            f'#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo {gh_token} && exit 0\nexit 1\n'
        )
        gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")


def test_with_no_token_check_says_how_to_supply_one_or_run_offline(
    project, run_cli, monkeypatch, tmp_path
):
    _laptop(monkeypatch, tmp_path)
    result = run_cli("check", cwd=project)
    assert result.code == 3
    assert "GH_TOKEN" in result.err and "gh auth login" in result.err
    assert "--registry local" in result.err and "Traceback" not in result.err


def test_registry_local_runs_offline_whatever_the_config_names(
    project, run_cli, monkeypatch, tmp_path, fake_github
):
    _laptop(monkeypatch, tmp_path)
    result = run_cli("--registry", "local", "check", "--promote", cwd=project)
    assert result.code == 0, result.err
    assert (project / ".ci-ml" / "registry" / "champion.json").is_file()
    assert fake_github.state.repo(REPO).releases == {}  # nothing went to GitHub


def test_a_logged_in_gh_cli_supplies_the_token(project, run_cli, monkeypatch, tmp_path):
    first = run_cli("check", "--promote", cwd=project)  # v1, with the workflow's token
    assert first.code == 0, first.err
    _laptop(monkeypatch, tmp_path, gh_token=TOKEN)
    second = run_cli("check", "-c", "ci-ml.fresh.yaml", "--format", "json", cwd=project)
    assert second.code in (0, 1), second.err
    assert json.loads(second.out)["champion"] == 1  # compared with v1 on GitHub


def test_on_a_laptop_the_clones_github_remote_names_the_repository(
    project, run_cli, monkeypatch, tmp_path
):
    assert run_cli("check", "--promote", cwd=project).code == 0  # v1, from CI
    _laptop(monkeypatch, tmp_path, gh_token=TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    remote = ["git", "-C", str(project), "remote", "add"]
    subprocess.run([*remote, "fork", "https://github.com/someone/fork.git"], check=True)
    subprocess.run([*remote, "origin", f"git@github.com:{REPO}.git"], check=True)
    listed = run_cli("registry", "list", "--json", cwd=project)
    assert listed.code == 0, listed.err
    assert json.loads(listed.out)["champion"] == 1  # origin's releases, not the fork's


def test_with_no_repository_anywhere_the_error_says_where_to_name_it(
    project, run_cli, monkeypatch, tmp_path
):
    _laptop(monkeypatch, tmp_path, gh_token=TOKEN)
    monkeypatch.delenv("GITHUB_REPOSITORY")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert "registry.repository" in result.err and "git remote" in result.err


def _json(result) -> dict[str, Any]:
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_check_promote_list_history_rollback_through_the_cli(project, run_cli, fake_github):
    first = run_cli("check", "--promote", cwd=project)
    assert first.code == 0, first.err
    second = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert second.code == 0, second.err
    promoted = run_cli("promote", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert promoted.code == 0, promoted.err

    listed = _json(run_cli("registry", "list", "--json", cwd=project))
    assert listed["champion"] == 2 and [v["version"] for v in listed["versions"]] == [1, 2]
    assert releases(fake_github) == {"ci-ml/diabetes/v1": False, "ci-ml/diabetes/v2": False}
    table = run_cli("registry", "list", cwd=project)
    assert table.code == 0 and "★" in table.out
    rolled = run_cli("rollback", "--reason", "bad in prod", cwd=project)
    assert rolled.code == 0, rolled.err
    audit = _json(run_cli("registry", "history", "--json", cwd=project))["audit"]
    assert [(e["event"], e["version"]) for e in audit] == [
        ("promote", 1),
        ("promote", 2),
        ("rollback", 1),
    ]
    assert audit[-1]["reason"] == "bad in prod"
    assert _json(run_cli("registry", "show", "--format", "json", cwd=project))["version"] == 1
    for result in (first, second, promoted, rolled):
        assert TOKEN not in result.out + result.err


def test_tampered_champion_asset_fails_the_next_check_with_exit_3(project, run_cli, fake_github):
    assert run_cli("check", "--promote", cwd=project).code == 0
    stored = asset(fake_github, "ci-ml/diabetes/v1", "model.skops")
    stored["content"] = stored["content"] + b"\x00"

    result = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert result.code == 3
    assert "does not match its record" in result.err


def test_server_dying_mid_upload_through_the_cli_is_exit_3(project, run_cli, fake_github):
    assert run_cli("check", "--promote", cwd=project).code == 0
    fake_github.disconnect("assets.upload", times=99)

    result = run_cli("check", "-c", "ci-ml.fresh.yaml", "--promote", cwd=project)
    assert result.code == 3
    assert "version 2 was not added, the champion is unchanged" in result.err
    fake_github.clear_faults()
    listed = _json(run_cli("registry", "list", "--json", cwd=project))
    assert listed["champion"] == 1 and [v["version"] for v in listed["versions"]] == [1]


def test_first_run_list_is_empty_not_an_error(project, run_cli):
    listed = _json(run_cli("registry", "list", "--json", cwd=project))
    assert listed == {"champion": None, "versions": []}
    assert _json(run_cli("registry", "history", "--json", cwd=project)) == {"audit": []}


def test_missing_token_is_exit_3_naming_github_token(project, run_cli, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert "GITHUB_TOKEN" in result.err and "Traceback" not in result.err


def test_a_failing_api_never_prints_the_token(project, run_cli, fake_github):
    fake_github.fail("releases.list", status=401, times=None, message=f"Bad credentials {TOKEN}")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert "401" in result.err and TOKEN not in result.out + result.err


def test_missing_repository_is_exit_3_naming_both_places(project, run_cli, monkeypatch):
    monkeypatch.delenv("GITHUB_REPOSITORY")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert "registry.repository" in result.err and "GITHUB_REPOSITORY" in result.err


def test_config_repository_and_tag_prefix_win_over_the_environment(project, run_cli, fake_github):
    config = yaml.safe_load((project / "ci-ml.yaml").read_text())
    config["registry"] |= {"repository": "octo/models", "tag_prefix": "models/diabetes-"}
    fake_github.state.repo("octo/models")  # the repository exists (the token can see it)
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(config))

    assert run_cli("check", "--promote", cwd=project).code == 0
    tags = [r["tag_name"] for r in fake_github.state.repo("octo/models").releases.values()]
    assert tags == ["models/diabetes-v1"] and releases(fake_github) == {}


def test_unknown_backend_is_a_config_error(project, run_cli):
    config = yaml.safe_load((project / "ci-ml.yaml").read_text())
    config["registry"] = {"backend": "s3"}
    (project / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 2 and "registry.backend" in result.err
