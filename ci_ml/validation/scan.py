"""Read CSV and Parquet files as a stream of Arrow record batches.

Memory stays bounded by the batch size, whatever the file size. CSV columns are
read as text and converted by the checks themselves, so a stray word in a
numeric column becomes a rule failure naming its rows, not a parser crash.
Structural problems (empty file, header only, ragged rows, duplicated column
names, corrupt Parquet) raise DataError; a missing file raises EnvironmentProblem.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ci_ml.errors import DataError, EnvironmentProblem

CSV_BLOCK_BYTES = 2 << 20  # the reader reads ahead many blocks: keep them small
PARQUET_BATCH_ROWS = 131_072
NUMBER_PATTERN = r"^[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|[iI]nf(inity)?|INF|[nN]a[nN])$"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
MAX_RAGGED_REPORTED = 5


@dataclass
class Source:
    """A data file opened for streaming: its column names, in file order."""

    path: Path
    columns: list[str]
    format: str
    _ragged: list[tuple[int | None, str]] = field(default_factory=list, repr=False)

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of the chosen columns; DataError if the file holds no rows."""
        rows = 0
        wanted = self.columns if columns is None else columns
        for batch in self._read(wanted):
            rows += batch.num_rows
            if batch.num_rows:
                yield batch
        self._raise_if_ragged()
        if rows == 0:
            raise DataError(f"{self.path}: has a header but no data rows")

    def _read(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            return _parquet_batches(self.path, columns)
        return _csv_batches(self.path, self.columns, columns, self._ragged)

    def _raise_if_ragged(self) -> None:
        if not self._ragged:
            return
        lines = _ragged_lines(self.path, {text for _, text in self._ragged})
        shown = "; ".join(f"line {n}: {text[:60]!r}" for n, text in lines)
        more = "+" if len(self._ragged) >= MAX_RAGGED_REPORTED else ""
        raise DataError(
            f"{self.path}: {len(self._ragged)}{more} rows do not have"
            f" {len(self.columns)} fields ({shown})"
        )


@dataclass
class TableSource(Source):
    """An in-memory table (pandas or Arrow) that behaves like a data file."""

    table: pa.Table | None = None

    def _read(self, columns: list[str]) -> Iterator[pa.RecordBatch]:
        assert self.table is not None
        return iter(self.table.select(columns).to_batches(max_chunksize=PARQUET_BATCH_ROWS))


def open_source(data: Any) -> Source:
    """Open a CSV/Parquet path, an Arrow table or a pandas DataFrame for streaming."""
    if isinstance(data, Source):
        return data
    if isinstance(data, pa.Table):
        return _table_source(data)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return _table_source(arrow_table(data))
    return _file_source(Path(data))


def arrow_table(frame: Any) -> pa.Table:
    """A pandas DataFrame as every scan reads it (the profile, the drift check). A thread
    that scans is handed the table: converting may import, and two threads importing at
    once can see half-initialized modules."""
    return pa.Table.from_pandas(frame, preserve_index=False)


def _table_source(table: pa.Table) -> TableSource:
    _check_unique_names(table.column_names, "table")
    return TableSource(Path("<table>"), table.column_names, "table", table=table)


def _file_source(path: Path) -> Source:
    if not path.is_file():
        raise EnvironmentProblem(f"{path}: data file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty")
    if path.suffix.lower() in (".parquet", ".pq"):
        columns = _parquet_columns(path)
        fmt = "parquet"
    else:
        columns = _csv_header(path)
        fmt = "csv"
    _check_unique_names(columns, str(path))
    return Source(path, columns, fmt)


def _check_unique_names(columns: list[str], where: str) -> None:
    repeated = sorted(name for name, count in Counter(columns).items() if count > 1)
    if repeated:
        raise DataError(f"{where}: duplicated column names {repeated}")


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), None)
    if not header or all(not name.strip() for name in header):
        raise DataError(f"{path}: the file is empty (no header row)")
    return [name.strip() for name in header]


def _parquet_columns(path: Path) -> list[str]:
    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None


def _csv_batches(
    path: Path, names: list[str], columns: list[str], ragged: list[tuple[int | None, str]]
) -> Iterator[pa.RecordBatch]:
    def on_ragged(row: Any) -> str:
        if len(ragged) < MAX_RAGGED_REPORTED:
            ragged.append((row.number, row.text))
        return "skip"

    read = pacsv.ReadOptions(
        column_names=names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=True
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=True,
        include_columns=columns,
    )
    parse = pacsv.ParseOptions(invalid_row_handler=on_ragged)
    try:
        reader = pacsv.open_csv(
            path, read_options=read, parse_options=parse, convert_options=convert
        )
        yield from reader
    except pa.ArrowInvalid as error:
        raise DataError(f"{path}: cannot be read as CSV ({error})") from None


def _ragged_lines(path: Path, texts: set[str], limit: int = 3) -> list[tuple[int, str]]:
    """The first lines (1-based, header = 1) whose text is one of the ragged rows.

    Only runs when a file is already known to be broken: the threaded CSV reader
    does not report where its invalid rows were.
    """
    found: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if text in texts:
                found.append((number, text))
            if len(found) == limit:
                break
    return found


def _parquet_batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    try:
        # Without pre-buffering, memory holds one batch, not whole row groups.
        yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(
            batch_size=PARQUET_BATCH_ROWS, columns=columns
        )
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: corrupt Parquet data ({error})") from None


# ---- converting one column of one batch -------------------------------------------------


def _text(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return array if pa.types.is_string(array.type) else pc.cast(array, pa.string())


def as_numbers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NaN where null or not a number) and the mask of non-numbers."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        return _float_values(array), np.zeros(len(array), bool)
    if pa.types.is_boolean(array.type):
        return _float_values(pc.cast(array, pa.float64())), np.zeros(len(array), bool)
    try:
        return _float_values(pc.cast(_text(array), pa.float64())), np.zeros(len(array), bool)
    except pa.ArrowInvalid:
        text = pc.utf8_trim_whitespace(_text(array))
    numeric = pc.match_substring_regex(text, NUMBER_PATTERN)
    bad = mask_of(pc.and_(pc.is_valid(text), pc.invert(numeric)))
    cleaned = pc.if_else(pc.fill_null(numeric, False), text, pa.scalar(None, pa.string()))
    return _float_values(pc.cast(cleaned, pa.float64())), bad


def _float_values(array: pa.Array) -> np.ndarray:
    """float64 values, NaN where null, without pyarrow's to_numpy (which imports pandas)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    dtype = np.dtype(array.type.to_pandas_dtype())
    data = array.buffers()[1]
    values = np.frombuffer(
        data, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
    values = values.astype(np.float64)  # always a copy: the buffer is read-only
    if array.null_count:
        values[_bits(array.buffers()[0], array.offset, len(array)) == 0] = np.nan
    return values


def _bits(buffer: pa.Buffer, offset: int, length: int) -> np.ndarray:
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, bitorder="little")[offset : offset + length]


def mask_of(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy mask (null counts as False)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        array = pc.fill_null(array, False)
    return _bits(array.buffers()[1], array.offset, len(array)).astype(bool)


def as_booleans(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Booleans as float 0/1, the mask of nulls and the mask of values that are not booleans."""
    if pa.types.is_boolean(array.type):
        values = _float_values(pc.cast(array, pa.float64()))
        return values, np.isnan(values), np.zeros(len(array), bool)
    words = pc.utf8_lower(pc.utf8_trim_whitespace(_text(array)))
    truthy = mask_of(pc.is_in(words, value_set=pa.array(TRUE_WORDS)))
    falsy = mask_of(pc.is_in(words, value_set=pa.array(FALSE_WORDS)))
    nulls = mask_of(pc.is_null(words))
    values = np.where(truthy, 1.0, np.where(falsy, 0.0, np.nan))
    return values, nulls, ~(truthy | falsy | nulls)


def refuse_nested(array: pa.Array, column: str) -> None:
    """DataError for lists, structs and maps: no rule or statistic here applies to them."""
    if pa.types.is_nested(array.type):
        raise DataError(f"column {column!r} holds {array.type} values, which ci-ml cannot check")


def as_text(array: pa.Array) -> pa.Array:
    """The column as an Arrow string array (numbers rendered as text)."""
    return _text(array)


def null_mask(array: pa.Array) -> np.ndarray:
    """True where the value is null, or NaN in a float column."""
    return mask_of(pc.is_null(array, nan_is_null=True))


def is_text_type(array_type: pa.DataType) -> bool:
    """Whether a column holds text (so numbers in it must be parsed)."""
    if pa.types.is_dictionary(array_type):
        array_type = array_type.value_type
    return pa.types.is_string(array_type) or pa.types.is_large_string(array_type)


def value_repr(array: pa.Array | np.ndarray, index: int) -> Any:
    """One cell, JSON-ready, for an example in a failure report."""
    value = array[index].item() if isinstance(array, np.ndarray) else array[index].as_py()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def iter_column(batches: Iterable[pa.RecordBatch], name: str) -> Iterator[pa.Array]:
    """One column of each batch."""
    for batch in batches:
        yield batch.column(name)
