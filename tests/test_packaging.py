"""The package as users get it: pyproject declares what ci_ml imports, the shipped
constraints pin every dependency inside its declared range, and (marker `packaging`)
the built wheel passes twine's checks, installs with the constraints into a fresh
virtual environment and runs the quickstart there."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from ci_ml import __version__

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
CONSTRAINTS = REPO / "constraints" / "ci-ml-constraints.txt"
LOWEST = REPO / "tests" / "constraints-lowest.txt"
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"yaml": "pyyaml", "sklearn": "scikit-learn", "github": "pygithub"}
OPTIONAL = {"mlflow", "pyspark"}  # behind the mlflow and spark extras


def declared() -> dict[str, Requirement]:
    found = (Requirement(line) for line in PROJECT["dependencies"])
    return {canonicalize_name(r.name): r for r in found}


def pins(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = (line.split("==") for line in lines if line and not line.startswith("#"))
    return {canonicalize_name(name): version for name, version in rows}


def imported_packages() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "ci_ml").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ci_ml", "__future__"}


def test_every_imported_package_is_declared() -> None:
    wanted = {canonicalize_name(DISTRIBUTIONS.get(n, n)) for n in imported_packages()}
    extras = {
        canonicalize_name(Requirement(r).name)
        for extra in ("mlflow", "spark")
        for r in PROJECT["optional-dependencies"][extra]
    }
    missing = wanted - set(declared()) - (extras & OPTIONAL)
    assert not missing, f"imported by ci_ml/ but not in pyproject dependencies: {missing}"


def test_the_constraints_pin_every_dependency_inside_its_range() -> None:
    pinned = pins(CONSTRAINTS)
    for name, requirement in declared().items():
        assert name in pinned, f"{CONSTRAINTS.name} does not pin {name}"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]}"
    assert "mlflow" in pinned  # the extra too: one file for every backend


def test_the_lowest_set_is_the_declared_lower_bounds() -> None:
    lowest = pins(LOWEST)
    for name, requirement in declared().items():
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        assert floors, f"{name} has no lower bound"
        found = Version(lowest.get(name, "0"))
        assert found == Version(floors[0]), f"{LOWEST.name}: {name} is {found}, not {floors[0]}"


def test_python_m_ci_ml_is_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ci_ml", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"ci-ml, version {__version__}"


def run(*args: str | Path, cwd: Path = REPO, timeout: float = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        list(map(str, args)), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out)  # the sdist, then the wheel from it
    return out


@pytest.mark.packaging
def test_the_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(dist.iterdir())
    assert {p.suffix for p in files} == {".gz", ".whl"}
    assert "PASSED" in run(sys.executable, "-m", "twine", "check", "--strict", *files)


@pytest.mark.packaging
def test_the_wheel_carries_what_ci_ml_reads_at_run_time(dist: Path) -> None:
    wheel = next(dist.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "ci_ml/__main__.py",
        "ci_ml/py.typed",
        "ci_ml/schemas/config.schema.json",
        "ci_ml/templates/ci-ml.yaml.tmpl",
        "ci_ml/templates/workflows/pr-check.yml",
        f"ci_ml-{__version__}.dist-info/licenses/LICENSE",
    ):
        assert needed in names, f"{wheel.name} lacks {needed}"


@pytest.mark.packaging
def test_the_wheel_runs_the_quickstart_in_a_fresh_environment(dist: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    run(*pip, "-c", CONSTRAINTS, wheel, timeout=900)  # resolves with the shipped pins
    run(python, "-m", "pip", "check")
    example = tmp_path / "penguins"
    shutil.copytree(
        REPO / "examples" / "penguins", example, ignore=shutil.ignore_patterns(".ci-ml")
    )
    said = run(env / "bin" / "ci-ml", "check", "--config", example / "ci-ml.yaml", cwd=tmp_path)
    assert "promote" in said
    assert (example / ".ci-ml" / "run" / "report.json").is_file()
    version = run(python, "-m", "ci_ml", "--version", cwd=tmp_path)
    assert version.strip() == f"ci-ml, version {__version__}"


NOTES = REPO / ".github" / "scripts" / "release_notes.py"


def release_notes(tag: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NOTES), tag], capture_output=True, text=True, timeout=60
    )


def test_the_action_tag_the_docs_and_workflows_name_is_this_version_s_major() -> None:
    """`uses: ci-ml/ci-ml@v1` follows the latest 1.x release: a package that says 0.x
    would be released under a tag the docs never name."""
    import re

    major = f"v{Version(__version__).major}"
    files = [REPO / "README.md", *sorted((REPO / "workflows").glob("*.yml"))]
    for path in (*files, *sorted((REPO / "docs").glob("*.md"))):
        for tag in re.findall(r"ci-ml/ci-ml(?:/[\w./-]+)?@(v\d+)\b", path.read_text()):
            assert tag == major, f"{path.name} names @{tag}; ci_ml says {__version__}"
    assert any("ci-ml/ci-ml@" + major in path.read_text() for path in files)


def test_a_release_tag_must_be_the_package_version() -> None:
    done = release_notes("v999.0.0")
    assert done.returncode == 1
    assert f"ci_ml/__init__.py says {__version__}" in done.stderr


def test_release_notes_are_the_version_s_changelog_section(tmp_path: Path) -> None:
    sys.path.insert(0, str(NOTES.parent))
    try:
        from release_notes import notes
    finally:
        sys.path.remove(str(NOTES.parent))
    changelog = (
        "# Changelog\n\n## [Unreleased]\n\n## [1.2.0] - 2027-01-01\n\n### Fixed\n\n- a bug\n\n"
        "## [1.1.0] - 2026-12-01\n\n- older\n\n[1.2.0]: https://example.com\n"
    )
    assert notes(changelog, "1.2.0") == "### Fixed\n\n- a bug\n"
    assert notes(changelog, "1.1.0") == "- older\n"
    with pytest.raises(SystemExit, match=r"no '## \[1.3.0\]' section"):
        notes(changelog, "1.3.0")
    assert "## [Unreleased]" in (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
