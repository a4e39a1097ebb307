from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ci_ml.cli import main
from tests.act.harness import run_act
from tests.fakegithub import FakeGitHub
from tests.mlflow_server import MlflowServer, mlflow_available, running_server

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
# npm packages pinned by a package-lock.json: GitHub's OpenAPI description (the fake
# GitHub checks its answers against it) and mermaid (the report tests parse charts)
NPM_FOLDERS = (REPO / "tests" / "openapi", REPO / "tests" / "render")


# test modules that run workflows with act (slow: each run starts the action afresh);
# any other module that imports the act harness's run_act is one too
ACT_MODULES = {"test_action_act.py", "test_workflows_act.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow groups, so `pytest -m "not act and not mlflow and not spark"` is a
    quick run: act runs, and tests that need the real MLflow server. Then check that what
    the xdist workers must not share or build twice is in FILE_GROUPS."""
    for item in items:
        if _runs_act(item):
            item.add_marker(pytest.mark.act)
        if "mlflow_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mlflow)
        group = worker_group(item)
        if group and FILE_GROUPS.get(item.path.name) != group:
            raise pytest.UsageError(
                f"{item.nodeid}: belongs on one xdist worker ({group}); add "
                f'"{item.path.name}": "{group}" to FILE_GROUPS in tests/conftest.py'
            )


# What worker_group() finds, by file: the xdist controller sees only test ids, so it
# schedules by file (pytest 9 ignores the ids xdist's own `--dist loadgroup` rewrites,
# so xdist_group marks group nothing). Collection fails if a test needs a group its
# file lacks here.
FILE_GROUPS = {
    "test_action_act.py": "act",
    "test_workflows_act.py": "act",
    "test_life_act.py": "act",
    "test_deploy_act.py": "act",
    "test_engine_check.py": "spark",
    "test_engine_spark.py": "spark",
    "test_engine_spark_validation.py": "spark",
    "test_engine_sparkml.py": "spark",
    "test_action_env.py": "test_action_env.py",
    "test_bad_input_suite.py": "test_bad_input_suite.py",
    "test_github_retrain.py": "test_github_retrain.py",
    "test_packaging.py": "test_packaging.py",
    "test_report_render.py": "test_report_render.py",
}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Load scheduling in which each FILE_GROUPS group is one unit of work: one worker
    runs its tests, in order; every other test is a unit of its own."""
    from xdist.scheduler import LoadScopeScheduling

    class FileGroups(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
            return FILE_GROUPS.get(name) or nodeid

    return FileGroups(config, log)


def _runs_act(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return item.path.name in ACT_MODULES or getattr(module, "run_act", None) is run_act


def worker_group(item: pytest.Item) -> str | None:
    """The xdist group a test needs (its tests run on one worker, in order), if any:

    - act: the act harness is not concurrency-safe (act's per-job folders under
      ~/.cache/act are told apart by listing them before and after a run), so every
      act run happens on one worker, one at a time, as in a serial run;
    - spark: one Spark Connect server (a JVM, `local[2,2]`: both cores) for the suite,
      not one per worker;
    - a module whose tests share a module-scoped fixture (a wheel build writing into the
      checkout, a bad-input template, a retrained repository): built once, on one worker.

    The MLflow server is one per worker (its own folder, a free port, a model name per
    test), so the mlflow tests spread over the workers."""
    if item.get_closest_marker("act"):
        return "act"
    fixtures = getattr(item, "fixturenames", ())
    if item.get_closest_marker("spark") or "spark_engine" in fixtures:
        return "spark"
    info = getattr(item, "_fixtureinfo", None)
    for name in fixtures if info else ():
        for fixture in info.name2fixturedefs.get(name, ()):
            if fixture.scope in ("module", "class", "package"):
                return item.path.name
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the pinned npm packages once, so that `pip install -e '.[test]' && pytest`
    is the whole suite on a fresh machine with node (what is missing then fails by name).
    Under xdist the controller installs them before any worker starts."""
    if hasattr(session.config, "workerinput"):
        return
    for folder in NPM_FOLDERS:
        if not (folder / "node_modules").is_dir() and shutil.which("npm"):
            command = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
            subprocess.run(command, cwd=folder, check=True)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `ci-ml ARGS` in-process from a folder, as a user would from a shell."""

    def run(*args: str, cwd: Path) -> Result:
        capsys.readouterr()
        old = Path.cwd()
        os.chdir(cwd)
        try:
            code = main(list(args))
        finally:
            os.chdir(old)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def example(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of a bundled example project (no registry, no run directory)."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".ci-ml"))
        return target

    return copy


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub on 127.0.0.1 (random port); `.url` is PyGithub's base_url."""
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_ghe() -> Iterator[FakeGitHub]:
    """The same fake, addressed GitHub Enterprise style: `.url` ends with /api/v3."""
    fake = FakeGitHub(prefix="/api/v3").start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests behave the same on a laptop and inside a real GitHub Actions job."""
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "INPUT_", "RUNNER_", "CI_ML_")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow tracking server for the whole session (skipped without mlflow,
    except in CI)."""
    if not mlflow_available():
        pytest.skip("mlflow is not installed (pip install 'ci-ml[mlflow]')")
    with running_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture
def model_name(request: pytest.FixtureRequest) -> str:
    """A registered model name of this test's own."""
    return "t-" + re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:60] + "-" + uuid.uuid4().hex[:6]


SUITE = "tests/test_bad_input_suite.py"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many bad inputs were tried, by group (only when the bad-input suite ran).
    Counted from the test reports, which xdist workers send to the controller."""
    tried = [
        report.nodeid
        for outcome in ("passed", "failed", "error", "skipped")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "nodeid", "").startswith(SUITE)
        and (report.when == "call" or report.outcome != "passed")
    ]
    if not tried:
        return
    from tests.test_bad_input_suite import GROUPS, suite_group

    groups: dict[str, int] = {}
    for nodeid in dict.fromkeys(tried):  # a case that errors in teardown counts once
        groups[suite_group(nodeid)] = groups.get(suite_group(nodeid), 0) + 1
    counts = ", ".join(f"{name} {groups[name]}" for name in sorted(groups, key=_order(GROUPS)))
    terminalreporter.write_line(f"bad-input suite: {sum(groups.values())} cases tried: {counts}")


def _order(groups: tuple[str, ...]) -> Callable[[str], int]:
    return lambda name: groups.index(name) if name in groups else len(groups)
