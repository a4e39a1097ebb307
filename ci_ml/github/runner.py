"""Runner files and workflow commands: step outputs, job summary, annotations, groups."""

from __future__ import annotations

import contextlib
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

from ci_ml.github.limits import fit_to_limit, utf8_len

SUMMARY_LIMIT = 1024 * 1024  # bytes in one step's $GITHUB_STEP_SUMMARY
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ANNOTATION_LEVELS = ("debug", "notice", "warning", "error")


# -- runner files and workflow commands ------------------------------------------------------


def write_outputs(path: Path | str, outputs: Mapping[str, object]) -> None:
    """Append step outputs to $GITHUB_OUTPUT; multiline values use a random heredoc delimiter."""
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        for name, value in outputs.items():
            f.write(_output_entry(name, _output_text(value)))


def _output_text(value: object) -> str:
    # Workflow expressions compare with 'true'/'false', not Python's 'True'.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _output_entry(name: str, value: str) -> str:
    if not _OUTPUT_NAME.match(name):
        raise ValueError(f"output name: expected letters, digits, '_' or '-', found {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:  # a value could hold the delimiter only by design: pick again
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append_summary(
    path: Path | str,
    markdown: str,
    limit: int = SUMMARY_LIMIT,
    pointer: str = "the `ci-ml-report` artifact",
) -> bool:
    """Append to $GITHUB_STEP_SUMMARY within its 1 MiB cap; False if there is no room left."""
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    try:
        fitted = fit_to_limit(text, limit - used, pointer=pointer, measure=utf8_len)
    except ValueError:
        return False
    with target.open("a", encoding="utf-8", newline="\n") as f:
        f.write(fitted if fitted.endswith("\n") else fitted + "\n")
    return True


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str,
    message: str,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    """A workflow command such as `::error file=ci-ml.yaml,line=3,title=Gate::message`."""
    if level not in _ANNOTATION_LEVELS:
        raise ValueError(f"annotation level: expected one of {_ANNOTATION_LEVELS}, found {level!r}")
    props = {"file": file, "line": None if line is None else str(line), "title": title}
    given = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items() if v is not None)
    return f"::{level}{' ' + given if given else ''}::{_escape_data(message)}"


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible section of the job log."""
    print(f"::group::{_escape_data(title)}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        print("::endgroup::", file=sys.stderr, flush=True)


@contextlib.contextmanager
def commands_stopped() -> Iterator[None]:
    """What is printed inside is log text only: the runner takes no line of it for a
    workflow command. GitHub's `::stop-commands::` lasts until its token is printed back,
    and the token is random, so no text printed inside can end it early."""
    token = uuid.uuid4().hex
    print(f"::stop-commands::{token}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        print(f"::{token}::", file=sys.stderr, flush=True)
