"""Data sources an engine reads, and the fingerprint recorded for each.

A source is a local file or folder, a URI Spark can read (`s3a://`, `abfss://`,
`gs://`, `hdfs://`, `file://`), or a catalog table (`table:db.name`). Where a
content hash is affordable (local files) the fingerprint is the content's
sha256; for a lake folder it is the file listing (path, size, modification
time); for a table with a version history (Delta) it is the table's version.
The record always says which (`kind`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ml.data import sha256_file
from ci_ml.errors import EnvironmentProblem

TABLE_PREFIX = "table:"
REMOTE_SCHEMES = ("s3a://", "s3://", "abfss://", "gs://", "hdfs://", "file://", "dbfs:/")
FORMATS = ("parquet", "csv", "delta")
DELTA_LOG = "_delta_log"
_DELTA_COMMIT = re.compile(r"(\d{20})\.json")


@dataclass(frozen=True)
class DataSource:
    """Where the rows are: `location` is a path, a URI, or a table name."""

    location: str
    kind: str  # "path" | "uri" | "table"
    format: str = "parquet"

    @property
    def label(self) -> str:
        return f"table {self.location}" if self.kind == "table" else self.location


def parse_source(
    value: str | Path, root: Path | None = None, format: str | None = None
) -> DataSource:
    """`table:db.t` -> a table; a URI as is; a relative path against `root`."""
    text = str(value)
    if text.startswith(TABLE_PREFIX):
        return DataSource(text[len(TABLE_PREFIX) :], "table", format or "table")
    if text.startswith(REMOTE_SCHEMES):
        return DataSource(text, "uri", format or _format_of(text))
    path = Path(text) if root is None or Path(text).is_absolute() else root / text
    found = "delta" if (path / DELTA_LOG).is_dir() else _format_of(text)
    return DataSource(str(path), "path", format or found)


def _format_of(location: str) -> str:
    name = location.rstrip("/").lower()
    if name.endswith((".csv", ".csv.gz")) or "/csv" in name:
        return "csv"
    return "delta" if name.endswith(".delta") else "parquet"


@dataclass(frozen=True)
class Fingerprint:
    """What identifies the data a run saw: `kind` says how it was taken."""

    kind: str  # "content-sha256" | "file-listing" | "table-version"
    sha256: str
    files: int
    bytes: int
    version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "sha256": self.sha256}
        out |= {"files": self.files, "bytes": self.bytes}
        if self.version is not None:
            out["version"] = self.version
        return out


def listing_fingerprint(files: list[tuple[str, int, int]]) -> Fingerprint:
    """From (path, size, modification time in ms) of every data file."""
    lines = sorted(f"{path}\t{size}\t{mtime}" for path, size, mtime in files)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return Fingerprint("file-listing", digest, len(files), sum(f[1] for f in files))


def table_version_fingerprint(table: str, version: int) -> Fingerprint:
    digest = hashlib.sha256(f"{table}@{version}".encode()).hexdigest()
    return Fingerprint("table-version", digest, 0, 0, version)


def delta_log_version(folder: Path) -> int | None:
    """A local Delta table's latest version: its newest commit file in _delta_log/.

    Commits are `<20-digit version>.json`; log clean-up removes only those older than
    the last checkpoint, so the newest commit is always there. None: no commit."""
    log = folder / DELTA_LOG
    found = (
        [m for p in log.iterdir() if (m := _DELTA_COMMIT.fullmatch(p.name))] if log.is_dir() else []
    )
    return max(int(m.group(1)) for m in found) if found else None


def data_files(source: DataSource) -> list[Path]:
    """A local file, or the data files of a local folder (hidden and _SUCCESS skipped)."""
    path = Path(source.location)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise EnvironmentProblem(f"{source.label}: no such file or folder")
    files = [p for p in sorted(path.rglob("*")) if p.is_file() and not _hidden(p, path)]
    if not files:
        raise EnvironmentProblem(f"{source.label}: the folder holds no data files")
    return files


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(("_", ".")) for part in path.relative_to(root).parts)


def content_fingerprint(source: DataSource) -> Fingerprint:
    """sha256 of a file, or of the sorted (relative path, file sha256) of a folder."""
    files = data_files(source)
    if len(files) == 1 and files[0] == Path(source.location):
        digest = sha256_file(files[0])
    else:
        root = Path(source.location)
        lines = [f"{p.relative_to(root).as_posix()}\t{sha256_file(p)}" for p in files]
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return Fingerprint("content-sha256", digest, len(files), sum(p.stat().st_size for p in files))
