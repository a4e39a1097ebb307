"""Reading data files: every structural problem is a clear DataError, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ci_ml.errors import DataError, EnvironmentProblem
from ci_ml.validation import build_profile, detect_drift, validate_table
from ci_ml.validation.scan import as_numbers, open_source

SCHEMA = {"columns": {"a": {"type": "int"}, "b": {"type": "float"}}}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows_of(path: Path) -> int:
    return sum(batch.num_rows for batch in open_source(path).batches())


def test_csv_and_parquet_stream_the_same_rows(tmp_path: Path) -> None:
    csv = write(tmp_path / "d.csv", "a,b\n1,2.5\n3,\n")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": [1, 3], "b": [2.5, None]}), parquet)
    assert rows_of(csv) == rows_of(parquet) == 2
    assert open_source(csv).columns == open_source(parquet).columns == ["a", "b"]


def test_empty_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty"):
        open_source(write(tmp_path / "e.csv", ""))


def test_header_only_file_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", "a,b\n")
    with pytest.raises(DataError, match="header but no data rows"):
        rows_of(path)


def test_ragged_rows_name_their_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "r.csv", "a,b\n1,2\n3\n4,5\n6,7,8\n")
    with pytest.raises(DataError) as caught:
        rows_of(path)
    assert "line 3" in caught.value.message and "line 5" in caught.value.message
    assert "do not have 2 fields" in caught.value.message


def test_duplicated_column_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"duplicated column names \['a'\]"):
        open_source(write(tmp_path / "d.csv", "a,b,a\n1,2,3\n"))


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        open_source(path)


def test_missing_file_is_an_environment_problem(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="not found"):
        open_source(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "empty"),
        ("a,b\n", "no data rows"),
        ("a,b\n1,2\n3\n", "line 3"),
        ("a,b,a\n1,2,3\n", "duplicated column names"),
    ],
)
def test_validate_table_turns_unreadable_files_into_a_failure(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path / "bad.csv", text)
    result = validate_table(path, SCHEMA)
    assert not result.passed
    assert result.failures[0].rule == "file" and problem in result.failures[0].found


def test_profile_and_drift_refuse_unreadable_files(tmp_path: Path) -> None:
    good = write(tmp_path / "g.csv", "a,b\n1,2\n2,3\n")
    ragged = write(tmp_path / "r.csv", "a,b\n1,2\n3\n")
    with pytest.raises(DataError, match="line 3"):
        build_profile(ragged)
    with pytest.raises(DataError, match="line 3"):
        detect_drift(build_profile(good), ragged)


def test_numbers_in_text_are_parsed_and_words_flagged() -> None:
    values, bad = as_numbers(pa.array(["1", " 2.5", "inf", None, "abc", "1e3"]))
    assert bad.tolist() == [False, False, False, False, True, False]
    assert values[1] == 2.5 and values[2] == float("inf") and values[5] == 1000.0


def test_dataframes_are_sources_too() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    assert validate_table(frame, SCHEMA).passed


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfa,b\n1,2.5\n")
    assert open_source(path).columns == ["a", "b"]
    assert validate_table(path, SCHEMA).passed


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"a,b\n1,caf\xe9\n")
    failure = validate_table(path, SCHEMA).failures[0]
    assert failure.rule == "file" and "invalid UTF8" in failure.found


def test_nested_columns_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"a": [1, 2], "tags": [[1], [2, 3]]}), path)
    failure = validate_table(path, {"columns": {"tags": {}}}).failures[0]
    assert failure.rule == "file" and "column 'tags' holds list<element: int64>" in failure.found
    with pytest.raises(DataError, match="column 'tags'"):
        build_profile(path)
