"""House rules of the package, checked on its source: one home for each thing a
newcomer would otherwise look for in several places."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ci_ml"

# Only these read or write the process's variables; everything else is handed an
# `Environment`. action_env.py runs before ci-ml is installed (its docstring says why).
ENVIRONMENT_READERS = {"environment.py", "action_env.py"}
OS_VARIABLES = {"environ", "environb", "getenv", "putenv", "unsetenv"}

# Each file of the run folder (ci_ml/rundir.py), of the model bundle (ci_ml/bundle.py)
# and of a registry's own records (ci_ml/registry/base.py) is named in code in exactly
# one module; the others import it.
RUN_FOLDER_FILES = {
    "validation.json": "rundir.py",
    "metrics.json": "rundir.py",
    "decision.json": "rundir.py",
    "report.json": "rundir.py",
    "report.md": "rundir.py",
    "report.html": "rundir.py",
    "predictions.parquet": "rundir.py",
    "resampled.npz": "rundir.py",
    "resampled.json": "rundir.py",
    "drift.json": "rundir.py",
    "champion-read.json": "rundir.py",
    "model-card.json": "bundle.py",
    "profile.json": "bundle.py",
    "record.json": "bundle.py",
    "input-example.json": "bundle.py",
    "model.skops": "bundle.py",
    "model.pkl": "bundle.py",
    "champion.json": "registry/base.py",
    "audit.jsonl": "registry/base.py",
}


@functools.cache
def modules() -> tuple[tuple[str, ast.Module], ...]:
    paths = sorted(PACKAGE.rglob("*.py"))
    return tuple(
        (p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text("utf-8"))) for p in paths
    )


def code_strings(tree: ast.Module) -> Iterator[str]:
    """String literals in code (f-string parts too); docstrings are prose, not names."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.value


def test_only_the_environment_module_reads_the_process_environment() -> None:
    readers = {name for name, tree in modules() for node in ast.walk(tree) if _reads_env(node)}
    assert readers == ENVIRONMENT_READERS


@pytest.mark.parametrize("file_name", sorted(RUN_FOLDER_FILES))
def test_each_run_folder_and_bundle_file_is_named_in_one_module(file_name: str) -> None:
    named = re.compile(rf"(^|/){re.escape(file_name)}$")
    found = {name for name, tree in modules() if any(named.search(s) for s in code_strings(tree))}
    assert found == {RUN_FOLDER_FILES[file_name]}


def test_only_config_py_reads_the_config_as_written() -> None:
    """Stages read typed fields of Config, resolved when ci-ml.yaml loads."""
    readers = {
        name
        for name, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "raw" and _is_config(node.value)
    }
    assert readers <= {"config.py"}


def _reads_env(node: ast.AST) -> bool:
    """`os.environ`, `os.getenv(...)`, or `from os import environ`."""
    if isinstance(node, ast.Attribute):
        return node.attr in OS_VARIABLES
    if isinstance(node, ast.ImportFrom) and node.module == "os":
        return any(a.name in OS_VARIABLES for a in node.names)
    return False


def _is_config(node: ast.expr) -> bool:
    """`config` or `ws.config`, `self.config`, ..."""
    return (isinstance(node, ast.Name) and node.id == "config") or (
        isinstance(node, ast.Attribute) and node.attr == "config"
    )
