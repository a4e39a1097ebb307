"""What a command prints on stdout, in the format the user asked for (`--format`).

A command describes its result once as an `Output`: the JSON a script reads,
and a headline with a table for people. A reporter, picked by name, renders it
as text, JSON or GitHub-flavoured markdown. The report has richer renderers of
its own (`ci_ml.report.renderer`); every other command's record comes through
here. Progress messages never do: they go to stderr (`workspace.say`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tabulate import tabulate

from ci_ml.errors import ConfigError

FORMATS = ("text", "json", "markdown")
MISSING = "–"


@dataclass(frozen=True)
class Output:
    """One command's result: `data` is its JSON; `headline` and the table are for people."""

    data: dict[str, Any]
    headline: str
    headers: Sequence[str] = ()
    rows: Sequence[Sequence[object]] = ()
    text: str | None = None  # the text rendering when it is a file's content (a YAML schema)


def cell(value: object) -> str:
    """A table cell as people read it: a dash for nothing, numbers to 4 significant digits."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(cell, value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render_text(output: Output) -> str:
    if output.text is not None:
        return output.text
    lines = [output.headline]
    if output.rows:
        lines.append(_table(output, "simple", str))
    return "\n".join(lines) + "\n"


def render_json(output: Output) -> str:
    return json.dumps(output.data, indent=2, default=str) + "\n"


def render_markdown(output: Output) -> str:
    lines = [f"**{_markdown_cell(output.headline)}**"]
    if output.rows:
        lines += ["", _table(output, "github", _markdown_cell)]
    return "\n".join(lines) + "\n"


def _table(output: Output, style: str, escape: Callable[[str], str]) -> str:
    rows = [[escape(cell(value)) for value in row] for row in output.rows]
    headers = [escape(name) for name in output.headers]
    return tabulate(rows, headers=headers, tablefmt=style, disable_numparse=True)


def _markdown_cell(text: str) -> str:
    """Text from data (a reason, a column name) must not open a tag or end a cell."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


_REPORTERS: dict[str, Callable[[Output], str]] = {
    "text": render_text,
    "json": render_json,
    "markdown": render_markdown,
}


def reporter(name: str) -> Callable[[Output], str]:
    if name not in _REPORTERS:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {name!r}")
    return _REPORTERS[name]


def emit(output: Output, name: str) -> None:
    """Write the output to stdout in the named format."""
    sys.stdout.write(reporter(name)(output))
