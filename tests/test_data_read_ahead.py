"""The read-ahead of `ci-ml check`: files read once, and a caller that waits for a file
being read does the files nobody has started meanwhile (real CSV files, real pyarrow)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from ci_ml import data


def _csv(path: Path, rows: int) -> Path:
    pd.DataFrame({"x": range(rows), "c": ["a", "b"] * (rows // 2)}).to_csv(path, index=False)
    return path


def test_a_caller_waiting_for_a_file_reads_the_unstarted_ones_meanwhile(tmp_path, monkeypatch):
    first, second = _csv(tmp_path / "train.csv", 1000), _csv(tmp_path / "eval.csv", 200)
    readers: dict[str, str] = {}
    second_read = threading.Event()
    real_read = data._read_csv

    def recorded(path: Path) -> pd.DataFrame:
        frame = real_read(path)
        readers[path.name] = threading.current_thread().name
        if path == second:
            second_read.set()
        return frame

    monkeypatch.setattr(data, "_read_csv", recorded)
    parsing = threading.Event()

    def parse_first() -> None:  # the read-ahead's piece: its lock held while it parses
        with data._AHEAD.lock("read", first):
            parsing.set()
            second_read.wait(timeout=20)
            data._read_table_cached(first, *data._identity(first))

    with data._AHEAD.guard:
        data._AHEAD.pending += [("hash", first), ("read", second), ("hash", second)]
    ahead = threading.Thread(target=parse_first, name="read-ahead")
    ahead.start()
    parsing.wait(timeout=20)
    try:
        frame = data.read_table(first)
    finally:
        ahead.join(timeout=30)
    assert len(frame) == 1000
    assert readers == {"eval.csv": threading.current_thread().name, "train.csv": "read-ahead"}
    assert data._AHEAD.pending == []
    assert data.data_sha256(second) == data.sha256_file(second)


def test_read_ahead_reads_and_hashes_each_file_once(tmp_path, monkeypatch):
    files = [_csv(tmp_path / f"{name}.csv", 100) for name in ("a", "b")]
    reads: list[str] = []
    real_read = data._read_csv
    monkeypatch.setattr(data, "_read_csv", lambda p: reads.append(p.name) or real_read(p))
    thread = data.read_ahead(files)
    frames = [data.read_table(p) for p in files]  # beside the thread, as validate does
    thread.join(timeout=30)
    assert sorted(reads) == ["a.csv", "b.csv"]
    assert [len(f) for f in frames] == [100, 100]
    assert [data.read_table(p) is f for p, f in zip(files, frames, strict=True)] == [True, True]
    assert data._AHEAD.running == 0
