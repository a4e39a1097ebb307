"""Local-only registry tests: processes racing on one folder, crashes mid-write,
the files on disk. The behaviour every backend shares is in test_registry_contract.py."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from ci_ml.errors import IntegrityError
from ci_ml.registry.base import RegistryRefused
from ci_ml.registry.local import LocalRegistry
from tests.registry_support import WHO, trained_folder


def _race(path: str, folder: str, barrier, results) -> None:
    registry = LocalRegistry(Path(path))
    version = registry.add(Path(folder))
    barrier.wait()
    try:
        registry.promote(version.number, 1, WHO)
        results.put(("won", version.number))
    except RegistryRefused:
        results.put(("lost", version.number))


def test_two_racing_processes_cannot_both_win(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "base"))
    registry.promote(1, None, WHO)
    folders = [trained_folder(tmp_path, f"r{i}") for i in range(4)]
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(len(folders)), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(registry.path), str(f), barrier, results))
        for f in folders
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    outcomes = [results.get(timeout=5) for _ in procs]
    winners = [number for outcome, number in outcomes if outcome == "won"]
    assert len(winners) == 1
    assert registry.champion().number == winners[0]
    assert sorted(v.number for v in registry.versions()) == [1, 2, 3, 4, 5]


def test_a_crash_while_writing_the_pointer_leaves_the_old_champion(tmp_path, monkeypatch):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    registry.add(trained_folder(tmp_path, "b"))
    registry.promote(1, None, WHO)

    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Exception, match="No space left"):
        registry.promote(2, 1, WHO)
    monkeypatch.undo()
    assert registry.champion().number == 1
    pointer = json.loads((registry.path / "champion.json").read_text())
    assert pointer["version"] == 1
    assert len(registry.audit_log()) == 1


def test_tampered_card_hash_is_refused(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    card_path = registry.path / "versions/1/model-card.json"
    card = json.loads(card_path.read_text())
    card["model_file"]["sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(IntegrityError, match="differs from the registry record"):
        registry.model_file(1)


def test_audit_log_is_append_only_json_lines(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    registry.promote(1, None, WHO)
    before = (registry.path / "audit.jsonl").read_bytes()
    registry.add(trained_folder(tmp_path, "b"))
    registry.promote(2, 1, WHO)
    after = (registry.path / "audit.jsonl").read_bytes()
    assert after.startswith(before)
    entry = json.loads(after.splitlines()[-1])
    assert entry | {"at": None} == entry | {
        "event": "promote",
        "version": 2,
        "previous": 1,
        "actor": "tester",
        "commit": "abc",
        "at": None,
    }


def test_identical_changes_in_the_same_second_each_get_their_audit_entry(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    for name in "ab":
        registry.add(trained_folder(tmp_path, name))
    registry.promote(1, None, WHO)
    registry.promote(2, 1, WHO)
    registry.rollback(WHO)  # -> 1
    registry.promote(2, 1, WHO)  # the same actor, time, commit and reason as before
    registry.rollback(WHO)  # -> 1 again: an entry equal to the first rollback's but its id
    events = [(e["event"], e["version"]) for e in registry.audit_log()]
    assert events == [
        ("promote", 1),
        ("promote", 2),
        ("rollback", 1),
        ("promote", 2),
        ("rollback", 1),
    ]


def test_a_torn_last_audit_line_is_reported_and_the_next_promotion_goes_on(
    example, run_cli, tmp_path
):
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    log = project / ".ci-ml/registry/audit.jsonl"
    log.write_text(log.read_text() + '{"event": "promote", "vers')  # killed mid-append
    result = run_cli("registry", "history", cwd=project)
    assert result.code == 0, result.err
    assert "unreadable" in result.out and "line 2 of the audit log is torn" in result.out
    registry = LocalRegistry(project / ".ci-ml/registry")
    registry.add(trained_folder(tmp_path, "b"))
    registry.promote(2, 1, WHO)
    events = [e["event"] for e in registry.audit_log()]
    assert events == ["promote", "unreadable", "promote"]
    assert log.read_text().splitlines()[0].startswith("{")  # nothing ci-ml wrote is lost


def test_registry_files_are_readable_by_teammates(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    registry.promote(1, None, WHO)
    for name in ("champion.json", "audit.jsonl", "versions/1/record.json"):
        assert (registry.path / name).stat().st_mode & 0o777 == 0o644, name
    assert (registry.path / "versions/1").stat().st_mode & 0o777 == 0o755


def test_leftovers_of_a_killed_run_are_cleaned_and_nothing_else(tmp_path):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    staging = registry.path / "versions" / ".incoming-k1ll3d"
    staging.mkdir()
    (staging / "model.skops").write_bytes(b"half")
    temp = registry.path / ".champion.json.abc123.tmp"
    temp.write_text("{")
    theirs = registry.path / "NOTES.md"
    theirs.write_text("the team's own notes")
    registry.promote(1, None, WHO)
    assert not staging.exists() and not temp.exists()
    assert theirs.read_text() == "the team's own notes"


def test_the_lock_is_portable(tmp_path):
    source = Path(__import__("ci_ml.registry.local").registry.local.__file__).read_text()
    assert "fcntl" not in source  # Windows has no fcntl; filelock covers all three
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))
    assert (registry.path / ".lock").exists()


def test_a_rerun_after_the_audit_append_failed_completes_it(tmp_path, monkeypatch):
    registry = LocalRegistry(tmp_path / "registry")
    registry.add(trained_folder(tmp_path, "a"))

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ci_ml.registry.local.append_line", disk_full)
    registry.promote(1, None, WHO)  # the pointer carries the entry
    monkeypatch.undo()
    assert not (registry.path / "audit.jsonl").exists()
    assert [e["event"] for e in registry.audit_log()] == ["promote"]
    registry.promote(1, None, WHO)  # the rerun: nothing to move, the entry is written
    lines = (registry.path / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["version"] for line in lines] == [1]
