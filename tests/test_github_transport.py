"""What GitHub does that a careful client must survive, through the real client against the
fake: tokens it cannot use, rate limits, other hosts, starter assets, stalls, transient 422s."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from ci_ml.github import ClientOptions, GitHubCallFailed, ReleaseStore
from ci_ml.registry.github_releases import GitHubReleasesRegistry
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, TOKEN, settings_for
from tests.test_registry_local import trained_folder

QUICK = replace(FAST, timeout=1, retries=0)


def registry_on(fake: FakeGitHub, tmp_path: Path, options: ClientOptions = FAST, **changes):
    settings = settings_for(fake, None, **changes)
    return GitHubReleasesRegistry.connect(settings, REPO, "demo", None, tmp_path / "c", options)


def test_a_repository_the_token_cannot_see_is_404_naming_it(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.token(TOKEN, repositories={"octo/other"})
    with pytest.raises(GitHubCallFailed) as failed:
        ReleaseStore(settings_for(fake_github, None), REPO, FAST).ref_target("heads/x")
    assert failed.value.status == 404 and failed.value.exit_code == 3
    assert "the token cannot see it" in str(failed.value)


def test_an_unknown_repository_is_404(fake_github: FakeGitHub) -> None:
    with pytest.raises(GitHubCallFailed, match="404"):
        ReleaseStore(settings_for(fake_github, None), "octo/nowhere", FAST)


def test_an_expired_token_is_401_saying_so(fake_github: FakeGitHub) -> None:
    fake_github.token(TOKEN, expired=True)
    with pytest.raises(GitHubCallFailed) as failed:
        ReleaseStore(settings_for(fake_github, None), REPO, FAST)
    assert failed.value.status == 401
    assert "Bad credentials" in str(failed.value) and "expired" in str(failed.value)
    assert TOKEN not in str(failed.value)


def test_promotion_without_contents_write_names_the_permission_and_the_job(
    fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_github.token(TOKEN, permissions={"contents": "read"})
    registry = registry_on(fake_github, tmp_path, event_name="schedule", job="promote")

    with pytest.raises(GitHubCallFailed) as failed:
        registry.add(trained_folder(tmp_path, "m"))

    message = str(failed.value)
    assert failed.value.status == 403 and "Resource not accessible by integration" in message
    assert "`contents: write`" in message and "job promote" in message
    assert "fork" not in message  # a scheduled job is no fork PR
    assert fake_github.state.repo(REPO).releases == {}


def test_a_fork_pr_token_is_read_only_and_the_message_says_fork(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.token(TOKEN, fork=True)
    registry = registry_on(fake_github, tmp_path, event_name="pull_request")
    assert registry.versions() == []  # reading is allowed
    with pytest.raises(GitHubCallFailed, match="fork always gets a read-only token"):
        registry.add(trained_folder(tmp_path, "m"))


def test_an_exhausted_rate_limit_fails_at_once_with_the_reset_time(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    registry = registry_on(fake_github, tmp_path)
    registry.versions()
    fake_github.exhaust_rate_limit(TOKEN, reset_in=1800)
    reset = fake_github.state.tokens[TOKEN].reset
    started = time.monotonic()

    with pytest.raises(GitHubCallFailed) as failed:
        registry.versions()

    assert time.monotonic() - started < 2  # not waiting half an hour
    assert failed.value.status == 403
    assert time.strftime("%H:%M:%S UTC", time.gmtime(reset)) in str(failed.value)
    assert "rate limit exhausted" in str(failed.value)


def test_every_answer_carries_rate_limit_headers(fake_github: FakeGitHub, tmp_path: Path) -> None:
    registry_on(fake_github, tmp_path).versions()
    assert fake_github.state.requests
    grant = fake_github.state.tokens[TOKEN]
    assert grant.used == len(fake_github.state.requests)


def test_uploads_and_downloads_use_their_own_hosts(fake_github: FakeGitHub, tmp_path: Path) -> None:
    registry = registry_on(fake_github, tmp_path)
    version = registry.add(trained_folder(tmp_path, "m"))
    model = registry.model_file(version.number)

    hosts = {r.route: r.host for r in fake_github.state.requests}
    assert hosts["assets.upload"] == "uploads" and hosts["storage.download"] == "storage"
    downloads = [r for r in fake_github.state.requests if r.host == "storage"]
    assert all("authorization" not in r.headers for r in downloads)  # no token to storage
    assert model.path.read_bytes() == (tmp_path / "m" / model.path.name).read_bytes()


def test_a_stalled_download_fails_in_bounded_time_naming_the_host(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    version = registry_on(fake_github, tmp_path).add(trained_folder(tmp_path, "m"))
    fake_github.stall("storage.download", times=10)
    registry = registry_on(fake_github, tmp_path / "fresh", QUICK)
    started = time.monotonic()

    with pytest.raises(GitHubCallFailed) as failed:
        registry.model_file(version.number)

    assert time.monotonic() - started < 10
    assert fake_github.storage_url.removeprefix("http://") in str(failed.value)
    assert failed.value.exit_code == 3


def test_a_stalled_upload_fails_in_bounded_time_naming_the_host(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.stall("assets.upload", times=10)
    started = time.monotonic()
    with pytest.raises(GitHubCallFailed) as failed:
        registry_on(fake_github, tmp_path, QUICK).add(trained_folder(tmp_path, "m"))
    assert time.monotonic() - started < 15
    assert fake_github.uploads_url.removeprefix("http://") in str(failed.value)
    assert "version 1 was not added" in str(failed.value)


def test_a_starter_asset_is_deleted_and_uploaded_again(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.starter_upload()
    registry = registry_on(fake_github, tmp_path)

    version = registry.add(trained_folder(tmp_path, "m"))

    assert version.number == 1
    assert fake_github.state.count("assets.delete") == 1
    assets = fake_github.state.repo(REPO).assets.values()
    assert all(a["state"] == "uploaded" and a["content"] for a in assets)
    assert len(registry.model_file(1).path.read_bytes()) > 0


def test_a_transient_ref_update_failure_is_retried_not_taken_for_a_taken_number(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    fake_github.ref_update_failed("refs.create")
    registry = registry_on(fake_github, tmp_path)

    version = registry.add(trained_folder(tmp_path, "m"))

    assert version.number == 1  # not 2: the 422 was no "already exists"
    assert fake_github.state.count("refs.create") == 2


def test_a_transient_failure_on_the_champion_branch_is_retried(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    from tests.test_registry_github_releases import WHO

    registry = registry_on(fake_github, tmp_path)
    registry.add(trained_folder(tmp_path, "m"))
    registry.promote(1, None, WHO)
    registry.add(trained_folder(tmp_path, "n"))
    fake_github.ref_update_failed("refs.update")

    registry.promote(2, 1, WHO)

    assert registry.champion().number == 2  # type: ignore[union-attr]
