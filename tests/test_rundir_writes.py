"""Run-folder writes: atomic always, synced to disk only where crash-safety needs it;
the predictions evaluate wrote are reused by the report in the same process."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from ci_ml import rundir
from ci_ml.registry.local import LocalRegistry
from ci_ml.rundir import RunDir, write_json_atomic
from tests.registry_support import WHO, trained_folder


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def counted(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(rundir.os, "fsync", counted)
    return calls


def test_run_folder_files_are_not_synced(tmp_path: Path, fsyncs: list[int]) -> None:
    run = RunDir(tmp_path / "run")
    run.write("metrics.json", {"a": 1})
    run.write_text("report.md", "# report\n")
    run.save_predictions(pd.DataFrame({"row": [0, 1], "y_true": [1, 0]}))
    assert fsyncs == []
    assert run.read("metrics.json") == {"a": 1}
    assert not list(run.path.glob(".*.tmp"))  # still written beside, then renamed


def test_other_writes_are_synced_by_default(tmp_path: Path, fsyncs: list[int]) -> None:
    write_json_atomic(tmp_path / "champion.json", {"version": 3})  # the registry's pointer
    assert len(fsyncs) == 2  # the file, then the folder that holds its new name


def test_report_reuses_the_predictions_written(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    frame = pd.DataFrame({"row": [0, 1], "y_true": ["a", "b"], "challenger_pred": ["a", "a"]})
    run.save_predictions(frame)
    assert run.load_predictions() is frame
    assert RunDir(run.path).load_predictions() is not None  # another process reads the file


def test_a_changed_predictions_file_is_read_again(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.save_predictions(pd.DataFrame({"row": [0], "y_true": [1]}))
    pd.DataFrame({"row": [0, 1, 2], "y_true": [0, 0, 1]}).to_parquet(run.predictions)
    loaded = run.load_predictions()
    assert loaded is not None and list(loaded["y_true"]) == [0, 0, 1]


def test_a_registered_version_is_on_disk_before_the_pointer_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def recorded(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))  # Linux: the path synced
        real(fd)

    monkeypatch.setattr(rundir.os, "fsync", recorded)
    registry = LocalRegistry(tmp_path / "registry")
    version = registry.add(trained_folder(tmp_path, "a"))
    copied = list((tmp_path / "registry" / "versions" / "1").iterdir())
    assert {p.name for p in copied} <= {Path(s).name for s in synced}  # each file's bytes
    assert str(tmp_path / "registry" / "versions") in synced  # and the rename into place
    synced.clear()
    registry.promote(version.number, None, WHO)
    assert str(tmp_path / "registry") in synced  # champion.json's rename
