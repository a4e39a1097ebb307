"""Read CSV and Parquet files, fingerprint them, and split evaluation rows.

A file that is missing or unreadable is an environment problem (exit 3); a file
that exists but cannot be trusted as data (unparseable, empty, ragged) is a
data verdict (exit 1) naming the file and what was wrong.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.errors import DataError, EnvironmentProblem

if TYPE_CHECKING:
    import pandas as pd

PARQUET_SUFFIXES = {".parquet", ".pq"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}


class _Ahead:
    """The read-ahead's work (read, then hash, each file in turn), claimed one piece at a
    time: a caller waiting on one piece does the pieces nobody has started meanwhile (a
    core would idle otherwise), and a piece in progress is waited for, never done twice."""

    def __init__(self) -> None:
        self.guard = threading.Lock()
        self.pending: list[tuple[str, Path]] = []
        self.started: dict[tuple[str, str], threading.Lock] = {}
        self.running = 0  # read-ahead threads at work (in-process runs may overlap)

    def lock(self, kind: str, path: Path) -> threading.Lock:
        with self.guard:
            return self.started.setdefault((kind, str(path.resolve())), threading.Lock())

    def claim(self) -> tuple[str, Path] | None:
        with self.guard:
            return self.pending.pop(0) if self.pending else None


_AHEAD = _Ahead()


def _identity(path: Path) -> tuple[str, int, int]:
    """A file's identity for in-process caches: a rewrite changes mtime or size."""
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def data_sha256(path: Path) -> str:
    """A data file's fingerprint, hashed once per process (never for integrity checks)."""
    try:
        with _claimed("hash", path):
            return _sha256_cached(*_identity(path))
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{path}: file not found") from exc


@functools.lru_cache(maxsize=16)
def _sha256_cached(resolved: str, _mtime: int, _size: int) -> str:
    return sha256_file(Path(resolved))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def read_table(path: Path) -> pd.DataFrame:
    """The whole file as a DataFrame, with pyarrow-backed readers for speed.

    Read once per process: `ci-ml check` validates, trains and evaluates on the
    same frames. Callers must not modify the frame in place.
    """
    _require_file(path)
    with _claimed("read", path):
        return _read_table_cached(path, *_identity(path))


@contextlib.contextmanager
def _claimed(kind: str, path: Path) -> Iterator[None]:
    """Hold the piece's lock; while another thread holds it, do unstarted pieces first."""
    lock = _AHEAD.lock(kind, path)
    while not lock.acquire(blocking=False):
        piece = _AHEAD.claim()
        if piece is None:
            lock.acquire()
            break
        _do(piece)
    try:
        yield
    finally:
        lock.release()


def _do(piece: tuple[str, Path]) -> None:
    kind, path = piece
    with contextlib.suppress(Exception):  # its caller's own call raises, with its message
        read_table(path) if kind == "read" else data_sha256(path)


def read_ahead(paths: Iterable[Path]) -> threading.Thread:
    """Read and hash the data files in a thread while the caller imports and checks its
    config (parsing releases the GIL): `read_table` then finds them read. The caller
    imports what reading needs first (two threads importing at once can see half
    initialized modules). A failed read is left for the caller's own `read_table`
    to raise, with its message and exit code."""
    import pandas  # noqa: F401
    import pyarrow.csv
    import pyarrow.pandas_compat
    import pyarrow.parquet  # noqa: F401

    with _AHEAD.guard:
        _AHEAD.pending += [(kind, path) for path in paths for kind in ("read", "hash")]
        _AHEAD.running += 1

    def read() -> None:
        try:
            while (piece := _AHEAD.claim()) is not None:
                _do(piece)
        finally:
            with _AHEAD.guard:
                _AHEAD.running -= 1

    thread = threading.Thread(target=read, name="ci-ml-read-ahead", daemon=True)
    thread.start()
    return thread


def _one_core() -> bool:
    """A read beside another (the read-ahead, or the caller it runs beside) uses one core,
    not pyarrow's pool: two pools would run more threads than cores."""
    return _AHEAD.running > 0 or threading.current_thread() is not threading.main_thread()


@functools.lru_cache(maxsize=4)
def _read_table_cached(path: Path, _resolved: str, _mtime: int, _size: int) -> pd.DataFrame:
    frame = _read_parquet(path) if path.suffix.lower() in PARQUET_SUFFIXES else _read_csv(path)
    _check_columns(path, list(frame.columns))
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows (the file has a header only)")
    return frame


def _require_file(path: Path) -> None:
    if not path.exists():
        raise EnvironmentProblem(f"{path}: data file not found")
    if not path.is_file():
        raise EnvironmentProblem(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, use_threads=not _one_core())
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {_first_line(exc)}") from exc
    return table.to_pandas(use_threads=not _one_core())


def _read_csv(path: Path) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=not _one_core()),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            # an empty field is a missing value in every column, text included
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise DataError(f"{path}: not a readable CSV file: {_csv_reason(exc)}") from exc
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot read: {exc}") from exc
    return table.to_pandas(use_threads=not _one_core())


def _csv_reason(exc: Exception) -> str:
    text = _first_line(exc)
    if "Empty CSV file" in text:
        return "the file is empty"
    if "Expected" in text and "columns" in text:
        return f"ragged rows: {text.removeprefix('CSV parse error: ')}"
    return text


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_columns(path: Path, columns: list[str]) -> None:
    seen: set[str] = set()
    duplicated = [c for c in columns if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
    if duplicated:
        raise DataError(f"{path}: duplicated column name(s): {', '.join(map(repr, duplicated))}")


@dataclass(frozen=True)
class EvalSplit:
    """How the evaluation rows were chosen: recorded so every stage uses the same rows."""

    source: str  # "file" or "split"
    path: str
    sha256: str
    rows: int
    fraction: float | None = None
    seed: int | None = None
    stratified: bool | None = None


def split_rows(
    frame: pd.DataFrame, target: str, fraction: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """A seeded (stratified where every class has 2+ rows) train/eval split."""
    from sklearn.model_selection import train_test_split

    labels = frame[target]
    can_stratify = stratify and bool(labels.notna().all()) and int(labels.value_counts().min()) >= 2
    try:
        train, held = train_test_split(
            frame,
            test_size=fraction,
            random_state=seed,
            stratify=labels if can_stratify else None,
        )
    except ValueError:  # too few rows per class for the requested fraction
        train, held = train_test_split(frame, test_size=fraction, random_state=seed)
        can_stratify = False
    return train, held, can_stratify
