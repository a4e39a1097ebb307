"""The contract every registry backend keeps: the same tests run on each.

local always; mlflow against a real tracking server when mlflow is installed
(in CI, where it must be, a missing mlflow fails instead of skipping).
A new backend joins by adding a `<name>_backend` factory returning a `Backend`
(tests/registry_support.py: the registry, a way to open a second client, ways to
tamper with it) and its name to the `backend` fixture's params.
"""

from __future__ import annotations

import json
import threading

import pytest

from ci_ml.errors import ENVIRONMENT, USAGE, EnvironmentProblem, IntegrityError
from ci_ml.modelfile import load_model
from ci_ml.registry.base import (
    MissingVersion,
    RegistryRefused,
    UnknownVersion,
    held_versions,
    user_version,
)
from tests.registry_support import WHO, add, backend, trained_folder

__all__ = ["backend"]  # the fixture, shared with the security and crash suites


def test_an_empty_registry_has_no_champion_versions_or_audit(backend):
    registry = backend.registry
    assert registry.champion() is None
    assert registry.versions() == []
    assert registry.audit_log() == []
    with pytest.raises(EnvironmentProblem, match="no version 1"):
        registry.version(1)


def test_versions_count_up_and_keep_their_card(backend, tmp_path):
    assert add(backend, tmp_path, "a", "b", "c") == [1, 2, 3]
    card = json.loads((tmp_path / "b" / "model-card.json").read_text())
    version = backend.fresh().version(2)
    assert version.card == card
    assert version.sha256 == card["model_file"]["sha256"]
    assert [v.number for v in backend.registry.versions()] == [1, 2, 3]
    listed = backend.registry.versions()[1].to_dict(champion=None)
    assert listed["metrics"] == {"accuracy": 0.75, "f1": 0.5} and listed["commit"] == "c0ffeeb"


def test_a_version_model_file_loads_after_its_sha256_check(backend, tmp_path):
    add(backend, tmp_path, "a")
    record = backend.fresh().model_file(1)
    assert record.sha256 == backend.registry.version(1).sha256
    model = load_model(record)
    assert list(model.predict([[0.0], [3.0]])) == [0, 1]


def test_a_tampered_model_file_is_refused(backend, tmp_path):
    add(backend, tmp_path, "a")
    backend.tamper_file(1)
    with pytest.raises(IntegrityError, match="refus") as caught:
        load_model(backend.fresh().model_file(1))
    assert caught.value.exit_code == ENVIRONMENT


def test_a_record_that_does_not_match_the_card_is_refused(backend, tmp_path):
    add(backend, tmp_path, "a")
    backend.tamper_record(1)
    with pytest.raises(IntegrityError, match="refus"):
        load_model(backend.fresh().model_file(1))


def test_promotion_against_a_stale_champion_is_refused(backend, tmp_path):
    registry = backend.registry
    add(backend, tmp_path, "a", "b", "c")
    registry.promote(1, None, WHO)
    backend.fresh().promote(2, 1, WHO)  # another run won first
    with pytest.raises(RegistryRefused, match="champion is now version 2"):
        registry.promote(3, 1, WHO)
    assert registry.champion().number == 2
    assert [e["version"] for e in registry.audit_log()] == [1, 2]


def test_two_racing_promotions_exactly_one_wins(backend, tmp_path):
    add(backend, tmp_path, "base", "r0", "r1", "r2")
    backend.registry.promote(1, None, WHO)
    outcomes: dict[int, str] = {}
    barrier = threading.Barrier(3)

    def race(number: int) -> None:
        registry = backend.fresh()
        barrier.wait()
        try:
            registry.promote(number, 1, WHO)
            outcomes[number] = "won"
        except RegistryRefused:
            outcomes[number] = "lost"

    threads = [threading.Thread(target=race, args=(n,)) for n in (2, 3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    winners = [n for n, outcome in outcomes.items() if outcome == "won"]
    assert len(outcomes) == 3 and len(winners) == 1
    assert backend.registry.champion().number == winners[0]
    assert [e["version"] for e in backend.registry.audit_log()] == [1, winners[0]]


def test_rollback_walks_back_through_champions_and_to_a_chosen_version(backend, tmp_path):
    registry = backend.registry
    add(backend, tmp_path, "a", "b", "c")
    registry.promote(1, None, WHO)
    registry.promote(2, 1, WHO)
    registry.promote(3, 2, WHO)
    assert registry.rollback(WHO).number == 2
    assert backend.fresh().rollback(WHO).number == 1
    with pytest.raises(RegistryRefused, match="nothing to roll back to"):
        registry.rollback(WHO)
    assert registry.rollback(WHO, to=3).number == 3
    with pytest.raises(RegistryRefused, match="already the champion"):
        registry.rollback(WHO, to=3)
    assert registry.champion().number == 3
    events = [(e["event"], e["version"], e["previous"]) for e in registry.audit_log()]
    assert events[-3:] == [("rollback", 2, 3), ("rollback", 1, 2), ("rollback", 3, 1)]


def test_rollback_with_no_champion_is_refused(backend):
    with pytest.raises(RegistryRefused, match="nothing to roll back to") as refused:
        backend.registry.rollback(WHO)
    assert "there is no champion yet (the registry has no promotions)" in refused.value.message


def test_a_version_a_user_names_that_does_not_exist_is_a_usage_error(backend, tmp_path):
    registry = backend.registry
    add(backend, tmp_path, "a", "b")
    registry.promote(1, None, WHO)
    with pytest.raises(UnknownVersion, match=r"no version 7 .*; it holds versions 1, 2$") as named:
        user_version(registry, 7)
    assert named.value.exit_code == USAGE
    with pytest.raises(MissingVersion, match="no version 7") as missing:
        registry.rollback(WHO, to=7)
    assert missing.value.number == 7 and registry.champion().number == 1


def test_a_long_registry_is_listed_by_its_first_and_last_versions():
    assert held_versions([]) == "it holds no versions yet"
    assert held_versions([4]) == "it holds version 4"
    assert held_versions(list(range(1, 51))) == "it holds versions 1, 2, 3, …, 48, 49, 50"


def test_the_audit_log_records_each_change_in_order(backend, tmp_path):
    registry = backend.registry
    add(backend, tmp_path, "a", "b")
    registry.promote(1, None, WHO)
    registry.promote(2, 1, WHO)
    registry.rollback(WHO)
    log = backend.fresh().audit_log()
    assert [(e["event"], e["version"], e["previous"]) for e in log] == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("rollback", 1, 2),
    ]
    for entry in log:
        assert (entry["actor"], entry["at"], entry["commit"], entry["reason"]) == (
            "tester",
            "2026-01-01T00:00:00+00:00",
            "abc",
            "test",
        )


def test_the_training_profile_travels_with_its_version(backend, tmp_path):
    with_profile = trained_folder(tmp_path, "profiled")
    profile = {"format": "ci-ml-profile/1", "columns": {"x": {"kind": "numeric", "count": 4}}}
    (with_profile / "profile.json").write_text(json.dumps(profile))
    first = backend.registry.add(with_profile).number
    second = backend.registry.add(trained_folder(tmp_path, "bare")).number
    assert backend.fresh().profile(first) == profile
    assert backend.fresh().profile(second) is None


def test_adding_the_same_bundle_again_adds_no_version(backend, tmp_path):
    """`ci-ml promote` killed between adding and promoting, run again: the version it
    added is found again, not duplicated; a different model still gets a new number."""
    folder = trained_folder(tmp_path, "a")
    assert backend.registry.add(folder).number == 1
    assert backend.fresh().add(folder).number == 1
    assert backend.fresh().add(trained_folder(tmp_path, "b")).number == 2
    assert [v.number for v in backend.fresh().versions()] == [1, 2]
