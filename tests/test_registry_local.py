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
