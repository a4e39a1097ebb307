"""Render a report as GitHub and a browser would: GFM HTML, mermaid's own parser, Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path
from typing import Any

import cmarkgfm
import pandas as pd
from cmarkgfm.cmark import Options

from ci_ml.records import DecisionRecord, EvaluationRecord, ValidationRecord
from ci_ml.report import curves
from ci_ml.report.build import build_report

HERE = Path(__file__).resolve().parent
MERMAID_BLOCK = re.compile(r"```mermaid\n(.*?)\n```", re.S)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def github_html(markdown: str) -> str:
    """report.md as GitHub renders a comment (GFM; details/summary pass through)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def full_report(project: Path) -> dict[str, Any]:
    """report.json as the report stage builds it, with the champion's card and the curves."""
    run, registry = project / ".ci-ml/run", project / ".ci-ml/registry"
    read = lambda name: json.loads((run / name).read_text())  # noqa: E731
    card = read("challenger/model-card.json")
    champion = json.loads((run / "report.json").read_text())["champion"]
    champion_card = (
        None
        if champion is None
        else json.loads((registry / f"versions/{champion}/model-card.json").read_text())
    )
    frame = pd.read_parquet(run / "predictions.parquet")
    return build_report(
        report_id="r",
        name=card["name"],
        primary_metric=read("report.json")["primary_metric"],
        validation=ValidationRecord.from_json(read("validation.json")),
        card=card,
        evaluation=EvaluationRecord.from_json(read("metrics.json")),
        decision=DecisionRecord.from_json(read("decision.json")),
        champion_card=champion_card,
        curves=curves.from_predictions(frame, card["task"]).to_dict(),
    ).to_json()


def mermaid_blocks(markdown: str) -> list[str]:
    return MERMAID_BLOCK.findall(markdown)


def mermaid_errors(blocks: list[str]) -> list[str | None]:
    """mermaid.parse on every block under node: None for a block that parses."""
    if not (HERE / "node_modules/mermaid").is_dir():
        raise AssertionError(f"mermaid is not installed: run `npm ci` in {HERE}")
    done = subprocess.run(
        ["node", str(HERE / "parse-mermaid.mjs")],
        input=json.dumps(blocks),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    errors: list[str | None] = json.loads(done.stdout)
    return errors


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise AssertionError("chromium is not installed (Debian package `chromium`)")
    return found


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 2400) -> Path:
    """A headless Chromium screenshot of a local page, with a fresh profile and no network."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                "--virtual-time-budget=10000",  # let mermaid draw before the picture
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
            env={**os.environ, "HOME": profile},
        )
    return png


MERMAID_HTML = re.compile(r'<pre lang="mermaid"><code>(.*?)</code></pre>', re.S)


def comment_page(markdown: str, path: Path) -> Path:
    """The comment as GitHub shows it: its HTML, every <details> opened, and the Mermaid
    blocks drawn by the mermaid library (the local copy: the page needs no network)."""
    body = github_html(markdown).replace("<details>", "<details open>")
    body = MERMAID_HTML.sub(r'<pre class="mermaid">\1</pre>', body)
    script = (HERE / "node_modules/mermaid/dist/mermaid.min.js").as_uri()
    path.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><style>'
        "body{font-family:sans-serif;max-width:1000px;margin:20px auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "pre{background:#f6f8fa;padding:8px}pre.mermaid{background:#fff;max-width:640px}"
        f'</style><script src="{script}"></script></head><body>{body}'
        "<script>mermaid.initialize({startOnLoad: true});</script></body></html>",
        encoding="utf-8",
    )
    return path


def ink(png: Path) -> float:
    """The share of pixels that are not (nearly) white."""
    try:
        from PIL import Image
    except ImportError:
        return _ink_without_pil(png.read_bytes())
    histogram = Image.open(png).convert("L").histogram()
    return sum(histogram[:235]) / sum(histogram)


def _ink_without_pil(data: bytes) -> float:
    """PNG decoded with zlib: 8-bit RGB(A), filters undone per scanline."""
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8, f"{depth}-bit PNG: only 8-bit is decoded here"
    chunks, index = [], 8
    while index < len(data):
        (length,) = struct.unpack(">I", data[index : index + 4])
        if data[index + 4 : index + 8] == b"IDAT":
            chunks.append(data[index + 8 : index + 8 + length])
        index += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    channels = {2: 3, 6: 4}[colour]
    stride, previous, dark = width * channels, bytearray(width * channels), 0
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 255
        dark += sum(1 for i in range(0, stride, channels) if min(line[i : i + 3]) < 235)
        previous = line
    return dark / (width * height)


def _paeth(left: int, up: int, corner: int) -> int:
    guess = left + up - corner
    far_left, far_up, far_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
    if far_left <= far_up and far_left <= far_corner:
        return left
    return up if far_up <= far_corner else corner
