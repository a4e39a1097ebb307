"""Runner helpers: $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, annotations, log groups."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ci_ml.github import SUMMARY_LIMIT, annotation, append_summary, group, write_outputs


def parse_outputs(text: str) -> dict[str, str]:
    """The runner's reading of a $GITHUB_OUTPUT file (name=value and name<<DELIMITER)."""
    found: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, value = line.split("=", 1)
            found[name] = value
            continue
        name, delimiter = line.split("<<", 1)
        end = lines.index(delimiter, i)
        found[name] = "\n".join(lines[i:end])
        i = end + 1
    return found


def test_outputs_round_trip_through_the_runner_format(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("earlier=1\n")
    values = {
        "verdict": "promote",
        "summary": "## Gate\n| rule | pass |\n|---|---|\n| auc | yes |\n",
        "tricky": "a=b<<c\r\nEOF\n",
        "count": 3,
    }
    write_outputs(path, values)

    text = path.read_bytes().decode()  # no newline translation: \r must survive
    assert "verdict=promote\n" in text and "count=3\n" in text
    assert parse_outputs(text) == {"earlier": "1"} | {k: str(v) for k, v in values.items()}


def test_multiline_delimiters_are_random_and_absent_from_the_value(tmp_path: Path) -> None:
    path = tmp_path / "output"
    write_outputs(path, {"a": "x\ny", "b": "x\ny"})
    headers = [line for line in path.read_text().splitlines() if "<<" in line]
    delimiters = [h.split("<<", 1)[1] for h in headers]
    assert len(set(delimiters)) == 2
    assert all(d.startswith("ghadelimiter_") and d not in "x\ny" for d in delimiters)


@pytest.mark.parametrize("name", ["", "a=b", "a<<b", "two words", "new\nline"])
def test_bad_output_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="output name"):
        write_outputs(tmp_path / "output", {name: "v"})


def test_summary_appends(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    assert append_summary(path, "# one")
    assert append_summary(path, "# two\n")
    assert path.read_text() == "# one\n# two\n"


def test_summary_is_capped_at_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"x" * (SUMMARY_LIMIT - 5000) + b"\n")
    sections = "".join(f"## Part {i}\n\n{'é' * 400}\n\n" for i in range(40))  # 2 bytes a char

    assert append_summary(path, sections)

    size = path.stat().st_size
    assert SUMMARY_LIMIT - 5000 < size <= SUMMARY_LIMIT
    assert path.read_text(encoding="utf-8").rstrip().endswith("the `ci-ml-report` artifact.")


def test_a_full_summary_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_bytes(b"x" * SUMMARY_LIMIT)
    assert not append_summary(path, "## more")
    assert path.stat().st_size == SUMMARY_LIMIT


def test_annotation_escaping() -> None:
    line = annotation(
        "error", "100% wrong\r\nsee below", file="data/a,b:c.csv", line=3, title="Drift: age"
    )
    assert line == (
        "::error file=data/a%2Cb%3Ac.csv,line=3,title=Drift%3A age::100%25 wrong%0D%0Asee below"
    )


def test_annotation_without_properties() -> None:
    assert annotation("notice", "a: b, c") == "::notice::a: b, c"
    with pytest.raises(ValueError, match="annotation level"):
        annotation("fatal", "x")


def test_group_wraps_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RuntimeError), group("Train\nchallenger"):
        print("fitting", file=sys.stderr)
        raise RuntimeError("boom")
    assert capsys.readouterr().err == "::group::Train%0Achallenger\nfitting\n::endgroup::\n"


def test_booleans_are_written_as_workflow_expressions_expect(tmp_path: Path) -> None:
    path = tmp_path / "output"
    write_outputs(path, {"promoted": True, "blocked": False})
    assert path.read_text() == "promoted=true\nblocked=false\n"
