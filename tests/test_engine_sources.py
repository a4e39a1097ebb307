"""Data sources and fingerprints that need no Spark: a local Delta table's version
from its _delta_log/, and what the local engine refuses to read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ci_ml.engines import parse_source
from ci_ml.engines.local import LocalEngine
from ci_ml.engines.sources import delta_log_version
from ci_ml.errors import ConfigError


def commit(table: Path, version: int, added: list[str], removed: tuple[str, ...] = ()) -> None:
    """One Delta commit as Delta writes it: JSON actions, one per line."""
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    actions: list[dict[str, object]] = [
        {"commitInfo": {"timestamp": 1_700_000_000_000 + version, "operation": "WRITE"}}
    ]
    if version == 0:
        actions += [
            {"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
            {"metaData": {"id": "4e5f", "format": {"provider": "parquet"}, "partitionColumns": []}},
        ]
    for name in added:
        pd.DataFrame({"x": [version], "y": [1]}).to_parquet(table / name, index=False)
        size = (table / name).stat().st_size
        actions.append({"add": {"path": name, "size": size, "dataChange": True}})
    actions += [{"remove": {"path": name, "dataChange": True}} for name in removed]
    lines = "\n".join(json.dumps(a) for a in actions)
    (log / f"{version:020d}.json").write_text(lines + "\n")


def test_a_delta_folders_version_is_its_newest_commit(tmp_path: Path) -> None:
    table = tmp_path / "events"
    commit(table, 0, ["part-0.parquet"])
    commit(table, 1, ["part-1.parquet"])
    log = table / "_delta_log"
    (log / "00000000000000000001.checkpoint.parquet").write_bytes(b"PAR1")
    (log / "_last_checkpoint").write_text(json.dumps({"version": 1, "size": 3}))
    (log / ".00000000000000000002.json.crc").write_text("")  # not a commit
    assert delta_log_version(table) == 1
    commit(table, 2, ["part-2.parquet"], removed=("part-0.parquet",))
    assert delta_log_version(table) == 2
    # log clean-up removes commits older than the checkpoint: the newest stays
    (log / "00000000000000000000.json").unlink()
    assert delta_log_version(table) == 2
    assert delta_log_version(tmp_path / "no-log") is None


def test_a_folder_with_a_delta_log_is_read_as_delta(tmp_path: Path) -> None:
    table = tmp_path / "events"
    commit(table, 0, ["part-0.parquet"])
    assert parse_source(table).format == "delta"
    assert parse_source("events", root=tmp_path).format == "delta"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert parse_source(plain).format == "parquet"


def test_the_local_engine_refuses_a_delta_folder(tmp_path: Path) -> None:
    # part-0 is removed by commit 1 but still on disk: reading every file would count it
    table = tmp_path / "events"
    commit(table, 0, ["part-0.parquet"])
    commit(table, 1, ["part-1.parquet"], removed=("part-0.parquet",))
    with pytest.raises(ConfigError, match="use engine: spark") as caught:
        LocalEngine().columns(parse_source(table))
    assert caught.value.exit_code == 2
