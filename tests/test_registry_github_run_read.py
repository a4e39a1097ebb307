"""One champion read per run folder: pr-check.yml runs each stage as its own process, and
the stages after the first compare against the champion the first one read (kept in the
run folder's champion-read.json), re-checking the model file against its seal and never
trusting that snapshot for a write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ml.data import sha256_file
from ci_ml.errors import IntegrityError
from ci_ml.modelfile import load_model
from ci_ml.registry.base import RegistryRefused, Who
from ci_ml.registry.github_releases import ChampionReads, GitHubReleasesRegistry
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, settings_for
from tests.test_registry_local import trained_folder

JOB = "77:pr-check"  # ChampionReads.run: the Actions run and job of the stages
WHO = Who(actor="tester", at="2026-01-01T00:00:00+00:00", commit="abc", reason="test")


def stage(fake: FakeGitHub, cache: Path, reads: ChampionReads | None) -> GitHubReleasesRegistry:
    """The registry as a new `ci-ml` process of one CI job opens it (same checkout cache)."""
    from ci_ml.github import releases

    releases.forget()
    fake.state.requests.clear()
    registry = GitHubReleasesRegistry.connect(
        settings_for(fake, None), REPO, "demo", None, cache, FAST
    )
    registry.reads = reads
    registry.reuse_run_read()
    return registry


@pytest.fixture
def run_read(fake_github: FakeGitHub, tmp_path: Path) -> Path:
    """A champion v1, read by a run's first stage (validate) in run/."""
    publisher = stage(fake_github, tmp_path / "publisher", None)
    publisher.add(trained_folder(tmp_path, "a"))
    publisher.promote(1, None, WHO)
    path = tmp_path / "run" / "champion-read.json"
    path.parent.mkdir()
    first = stage(fake_github, tmp_path / "cache", ChampionReads(path, False, JOB))
    version = first.champion()
    assert version is not None and version.number == 1
    load_model(first.model_file(1))
    return path


def test_later_stages_reuse_the_run_read_and_ask_github_nothing(run_read, fake_github, tmp_path):
    later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, JOB))
    version = later.champion()
    assert version is not None and version.number == 1
    assert load_model(later.model_file(1)) is not None
    assert [e["event"] for e in later.audit_log(fresh=False)] == ["promote"]
    assert fake_github.state.api_requests() == 0


def test_every_stage_compares_against_the_snapshot_but_a_promotion_reads_afresh(
    run_read, fake_github, tmp_path
):
    other = stage(fake_github, tmp_path / "other", None)  # another PR merged meanwhile
    other.add(trained_folder(tmp_path, "b"))
    other.promote(2, 1, WHO)
    later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, JOB))
    version = later.champion()
    assert version is not None and version.number == 1  # the run's champion, as first read
    later.add(trained_folder(tmp_path, "c"))
    with pytest.raises(RegistryRefused, match="champion"):
        later.promote(3, 1, WHO)  # the compare-and-swap read GitHub: v2 is the champion now
    assert stage(fake_github, tmp_path / "x", None).champion().number == 2  # type: ignore[union-attr]


def test_a_cached_model_file_the_pointer_does_not_vouch_for_is_fetched_again(
    run_read, fake_github, tmp_path
):
    later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, JOB))
    later.champion()
    cached = next((tmp_path / "cache").rglob("model.skops"))
    cached.write_bytes(b"not the champion")
    model = later.model_file(1)
    assert sha256_file(model.path) == model.sha256  # downloaded again, as the seal says
    assert load_model(model) is not None
    assert fake_github.state.count("assets.get") == 1  # that one download
    assert fake_github.state.count("refs.get") == 0  # the champion: still the run's snapshot


def test_a_snapshot_whose_seal_disagrees_with_the_release_is_refused(
    run_read, fake_github, tmp_path
):
    kept = json.loads(run_read.read_text())
    kept["pointer"]["models"]["1"]["sha256"] = "0" * 64
    run_read.write_text(json.dumps(kept))
    later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, JOB))
    later.champion()
    with pytest.raises(IntegrityError):
        later.model_file(1)


def test_an_unreadable_snapshot_is_read_again_from_github(run_read, fake_github, tmp_path):
    run_read.write_text("{half a file")
    later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, JOB))
    version = later.champion()
    assert version is not None and version.number == 1
    assert fake_github.state.api_requests() > 0
    assert json.loads(run_read.read_text())["pointer"]["version"] == 1  # recorded afresh


def test_a_new_run_first_stage_drops_an_earlier_runs_read(run_read, fake_github, tmp_path):
    stage(fake_github, tmp_path / "cache", ChampionReads(run_read, False, JOB))
    assert not run_read.exists()  # whatever this stage then reads, it is not the old run's


def test_a_read_left_by_another_job_or_outside_actions_is_not_reused(
    run_read, fake_github, tmp_path
):
    for run in ("78:pr-check", ""):  # the next workflow run; a laptop's left-over folder
        later = stage(fake_github, tmp_path / "cache", ChampionReads(run_read, True, run))
        assert later.champion() is not None
        assert fake_github.state.api_requests() > 0  # read from GitHub, not the old file
