"""Regenerate docs/images: the bundled examples' reports as a reader sees them.

PYTHONPATH=. python -m tests.render.screenshots docs/images
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ci_ml.cli import main
from ci_ml.report import renderer
from tests.conftest import EXAMPLES
from tests.render import support


def _second_run(name: str, root: Path) -> Path:
    project = root / name
    shutil.copytree(EXAMPLES / name, project, ignore=shutil.ignore_patterns(".ci-ml"))
    os.chdir(project)
    for args in (["check", "--promote"], ["check", "-c", "ci-ml.fresh.yaml"]):
        if main(args) != 0:
            raise SystemExit(f"ci-ml {' '.join(args)} failed in {project}")
    return project


def _trimmed(png: Path) -> None:
    """Cut the white space below the content (needs Pillow)."""
    from PIL import Image, ImageChops

    image = Image.open(png).convert("RGB")
    box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
    if box:
        image.crop((0, 0, image.width, min(image.height, box[3] + 24))).save(png, optimize=True)


def run(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    home = Path.cwd()
    with tempfile.TemporaryDirectory() as root:
        for name in ("penguins", "diabetes"):
            report = support.full_report(_second_run(name, Path(root)))
            page = Path(root) / f"{name}.html"
            page.write_text(renderer("html")(report), encoding="utf-8")
            shot = support.screenshot(page, home / target / f"report-html-{name}.png", 1150, 4200)
            _trimmed(shot)
            comment = support.comment_page(renderer("markdown")(report), Path(root) / "md.html")
            shot = support.screenshot(comment, home / target / f"comment-{name}.png", 1050, 1400)
            _trimmed(shot)
        os.chdir(home)


if __name__ == "__main__":
    run(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images"))
