"""The action's own virtual environment: where it lives, and whether one found there
can be trusted. Run by action.yml with the runner's Python before ci-ml is installed,
so it uses the standard library only and imports nothing from ci_ml: it reads the
action's inputs from `os.environ` itself, the one module besides ci_ml/environment.py
that does (`python -I` runs this file alone, with the action's folder off sys.path, and
it checks the environment before any other ci-ml code is imported).

    python action_env.py key ACTION_PATH          # prints: python-version deps-hash env-key
    python action_env.py seal VENV KEY            # after installing: write the marker
    python action_env.py verify VENV KEY          # exit 0: reuse; else say why, and rebuild

On a self-hosted runner the tool cache outlives jobs, so an earlier job could have
changed the environment. `verify` runs with the trusted interpreter (never the
environment's own, whose site-packages could run code at start-up) and accepts the
environment only if its marker names this key, its interpreter is this one, every
installed file matches the sha256 pip recorded for it, no file outside those records
sits in site-packages, and the records themselves hash to what the marker says.
Byte-code caches are not trusted at all: the action runs ci-ml with
PYTHONPYCACHEPREFIX in the job's own temporary folder, so __pycache__ is never read.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

MARKER = ".ci-ml-ready.json"
# The inputs that change what gets installed, read from the environment (action.yml).
INSTALL_INPUTS = ("CI_ML_EXTRAS", "CI_ML_EXTRA_PACKAGES", "CI_ML_REQUIREMENTS_FILE")
INSTALL_FILES = ("CI_ML_CONSTRAINTS_FILE", "CI_ML_REQUIREMENTS_FILE")


def python_version() -> str:
    return "{}.{}".format(*sys.version_info[:2])


def code_digest(root: Path) -> hashlib._Hash:
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes())
    for path in sorted(p for p in (root / "ci_ml").rglob("*") if p.is_file()):
        if path.suffix != ".pyc":
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest


def install_digest() -> hashlib._Hash:
    """What the inputs ask to install: the extras, the packages, the files' contents."""
    digest = hashlib.sha256(sys.executable.encode() + b"\0" + sys.version.encode())
    for name in INSTALL_INPUTS:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    for name in INSTALL_FILES:
        path = os.environ.get(name, "")
        digest.update(Path(path).read_bytes() if path else b"-")
    return digest


def key(root: Path) -> str:
    """Python version, a hash of the dependency list (the pip cache's key) and the
    environment's key: ci-ml's code, the interpreter and what the inputs install."""
    deps = hashlib.sha256((root / "pyproject.toml").read_bytes())
    constraints = os.environ.get("CI_ML_CONSTRAINTS_FILE", "")
    deps.update(Path(constraints).read_bytes() if constraints else b"-")
    both = code_digest(root)
    both.update(install_digest().digest())
    return f"{python_version()} {deps.hexdigest()[:16]} {both.hexdigest()[:16]}"


def site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{python_version()}" / "site-packages"


def records(site: Path) -> Iterator[Path]:
    yield from sorted(site.glob("*.dist-info/RECORD"))


def records_digest(site: Path) -> str:
    digest = hashlib.sha256()
    for record in records(site):
        digest.update(record.relative_to(site).as_posix().encode() + b"\0" + record.read_bytes())
    return digest.hexdigest()


def marker_text(venv: Path, env_key: str) -> str:
    site = site_packages(venv)
    config = hashlib.sha256((venv / "pyvenv.cfg").read_bytes()).hexdigest()
    fields = {"key": env_key, "python": sys.executable, "records": records_digest(site)}
    fields["pyvenv.cfg"] = config
    return json.dumps(fields, sort_keys=True)


def _file_hash(path: Path) -> str:
    raw = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def recorded_files(site: Path) -> Iterator[tuple[Path, str]]:
    """(file, recorded hash or '') for every row of every RECORD (a CSV file)."""
    for record in records(site):
        with record.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if row and row[0]:
                    yield (site / row[0]).resolve(), row[1] if len(row) > 1 else ""


def _tampered(path: Path, expected: str) -> bool:
    if not expected or "__pycache__" in path.parts:
        return False  # pip records no hash for itself; byte code is never read
    return not path.is_file() or _file_hash(path) != expected


def _same_interpreter(python: Path) -> bool:
    """A venv's python links to (or is a copy of) its creator's base interpreter."""
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    found = python.resolve()
    return found == base or (found.is_file() and _file_hash(found) == _file_hash(base))


def problem(venv: Path, env_key: str) -> str | None:
    """Why the environment at `venv` cannot be reused, or None."""
    marker = venv / MARKER
    if not marker.is_file():
        return "no marker"
    if marker.read_text(encoding="utf-8") != marker_text(venv, env_key):
        return "its marker names another key, interpreter, configuration or package set"
    if not _same_interpreter(venv / "bin" / "python"):
        return "its python is not this runner's interpreter"
    site = site_packages(venv).resolve()
    known: set[Path] = set()
    for path, expected in recorded_files(site):
        known.add(path)
        if _tampered(path, expected):
            return f"{path} does not match the sha256 pip recorded for it"
    for path in site.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.resolve() not in known:
            return f"{path} was not installed by pip"
    return None


def main(argv: list[str]) -> int:
    command, *args = argv
    if command == "key":
        print(key(Path(args[0])))
        return 0
    venv, env_key = Path(args[0]), args[1]
    if command == "seal":
        (venv / MARKER).write_text(marker_text(venv, env_key), encoding="utf-8")
        return 0
    why = problem(venv, env_key)
    if why:
        print(why)
    return 0 if why is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
