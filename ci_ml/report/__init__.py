"""Reports: report.json (the record) and its renderings (markdown, text, json, html)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ci_ml.errors import ConfigError

FORMATS = ("markdown", "text", "json", "html")


def renderer(name: str) -> Callable[[dict[str, Any]], str]:
    if name == "markdown":
        from ci_ml.report.markdown import render
    elif name == "text":
        from ci_ml.report.text import render
    elif name == "json":
        from ci_ml.report.jsonfmt import render
    elif name == "html":
        from ci_ml.report.html import render
    else:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {name!r}")
    return render
