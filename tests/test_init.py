"""`ci-ml init`: a working ci-ml.yaml inferred from a data file, the workflows in
.github/workflows/, and no overwriting without --force."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ci_ml import __version__
from ci_ml.commands.init import WORKFLOWS, infer_task
from ci_ml.config import load_config
from ci_ml.github.remote import repository_of

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def user_repo(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # a repository root
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(EXAMPLES / "penguins" / "data" / "train.csv", data / "train.csv")
    shutil.copy(EXAMPLES / "penguins" / "data" / "eval.csv", data / "eval.csv")
    return tmp_path


def test_writes_a_config_that_loads_and_runs(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    result = run_cli(
        "init", "data/train.csv", "--target", "species", "--eval", "data/eval.csv", cwd=user_repo
    )
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    config = load_config(user_repo / "ci-ml.yaml")
    assert config.task == "classification"
    assert config.data.target == "species"
    assert config.metrics[0] == "f1_macro"
    raw = yaml.safe_load((user_repo / "ci-ml.yaml").read_text())
    assert raw["model"]["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert raw["data"] == {"train": "data/train.csv", "eval": "data/eval.csv", "target": "species"}
    checked = run_cli("check", cwd=user_repo)
    assert checked.code == 0, checked.err  # type: ignore[attr-defined]
    assert ".ci-ml/" in (user_repo / ".gitignore").read_text()


def test_writes_the_workflows_as_shipped(user_repo: Path, run_cli: Callable[..., object]) -> None:
    run_cli("init", "data/train.csv", "--target", "species", cwd=user_repo)
    folder = user_repo / ".github" / "workflows"
    for template, name in WORKFLOWS.items():
        assert (folder / name).read_text() == (REPO / "workflows" / template).read_text()


def test_config_in_a_subfolder_is_named_in_the_workflows(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    model = user_repo / "models" / "penguins"
    model.mkdir(parents=True)
    shutil.move(user_repo / "data", model / "data")
    result = run_cli(
        "init",
        "models/penguins/data/train.csv",
        "-t",
        "species",
        "--dir",
        "models/penguins",
        cwd=user_repo,
    )
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    assert (model / "ci-ml.yaml").is_file()
    text = (user_repo / ".github" / "workflows" / "ci-ml-pr-check.yml").read_text()
    assert "vars.CI_ML_CONFIG || 'models/penguins/ci-ml.yaml'" in text
    raw = yaml.safe_load((model / "ci-ml.yaml").read_text())
    assert raw["name"] == "penguins"
    assert raw["data"]["train"] == "data/train.csv"  # relative to the config


def test_refuses_to_overwrite_without_force(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    workflow = user_repo / ".github" / "workflows" / "ci-ml-pr-check.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("mine\n")
    result = run_cli("init", "data/train.csv", "--target", "species", cwd=user_repo)
    assert result.code == 2
    assert "ci-ml-pr-check.yml already exists" in result.err  # type: ignore[attr-defined]
    assert "--force" in result.err  # type: ignore[attr-defined]
    assert workflow.read_text() == "mine\n"
    assert not (user_repo / "ci-ml.yaml").exists()  # all or nothing
    forced = run_cli("init", "data/train.csv", "--target", "species", "--force", cwd=user_repo)
    assert forced.code == 0
    assert workflow.read_text() != "mine\n"


def test_no_workflows(user_repo: Path, run_cli: Callable[..., object]) -> None:
    result = run_cli("init", "data/train.csv", "-t", "species", "--no-workflows", cwd=user_repo)
    assert result.code == 0
    assert not (user_repo / ".github").exists()


def test_unknown_target_is_a_config_error(user_repo: Path, run_cli: Callable[..., object]) -> None:
    result = run_cli("init", "data/train.csv", "--target", "specie", cwd=user_repo)
    assert result.code == 2
    assert "'specie'" in result.err and "species" in result.err  # type: ignore[attr-defined]


def test_missing_data_file_is_an_environment_error(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    assert run_cli("init", "data/nope.csv", "--target", "x", cwd=user_repo).code == 3


def test_regression_from_the_diabetes_example(
    tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    shutil.copy(EXAMPLES / "diabetes" / "data" / "train.csv", tmp_path / "train.csv")
    result = run_cli("init", "train.csv", "--target", "progression", "--no-workflows", cwd=tmp_path)
    assert result.code == 0
    config = load_config(tmp_path / "ci-ml.yaml")
    assert config.task == "regression"
    assert config.metrics[0] == "neg_root_mean_squared_error"


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        (list(range(100)), "regression"),
        ([0.5, 1.5, 2.0], "regression"),
    ],
)
def test_task_inferred_from_the_target(values: list[object], task: str) -> None:
    assert infer_task(pd.DataFrame({"y": values}), "y").name == task


def test_shipped_templates_are_the_ready_to_copy_workflows() -> None:
    for template in WORKFLOWS:
        shipped = REPO / "ci_ml" / "templates" / "workflows" / template
        assert shipped.read_text() == (REPO / "workflows" / template).read_text(), (
            f"ci_ml/templates/workflows/{template} differs from workflows/{template}: copy it"
        )


def _init(run_cli: Callable[..., object], cwd: Path) -> dict[str, object]:
    result = run_cli("init", "data/train.csv", "--target", "species", cwd=cwd)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    loaded = yaml.safe_load((cwd / "ci-ml.yaml").read_text(encoding="utf-8"))
    load_config(cwd / "ci-ml.yaml")  # valid against the schema and the loader
    said = result.out + result.err  # type: ignore[attr-defined]
    return {"registry": loaded["registry"], "out": said}


def test_without_github_the_registry_is_local(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    found = _init(run_cli, user_repo)
    assert found["registry"] == {"backend": "local", "path": ".ci-ml/registry"}
    assert "registry local (no GitHub remote found)" in str(found["out"])


def test_in_github_actions_the_registry_is_github_releases(
    user_repo: Path, run_cli: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/churn")
    found = _init(run_cli, user_repo)
    assert found["registry"] == {"backend": "github-releases"}
    assert "GITHUB_REPOSITORY is octo/churn" in str(found["out"])


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("git@github.com:octo/churn.git", "github-releases"),
        ("https://github.com/octo/churn", "github-releases"),
        ("https://gitlab.com/octo/churn.git", "local"),
        ("https://notgithub.com/octo/churn.git", "local"),
    ],
)
def test_a_github_remote_chooses_github_releases(
    url: str, backend: str, tmp_path: Path, run_cli: Callable[..., object]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", url], check=True)
    (tmp_path / "data").mkdir()
    shutil.copy(EXAMPLES / "penguins" / "data" / "train.csv", tmp_path / "data" / "train.csv")
    assert _init(run_cli, tmp_path)["registry"]["backend"] == backend  # type: ignore[index]


def test_the_config_names_its_published_schema_for_editors(
    user_repo: Path, run_cli: Callable[..., object]
) -> None:
    _init(run_cli, user_repo)
    first = (user_repo / "ci-ml.yaml").read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema=https://raw.githubusercontent.com/ci-ml/ci-ml/"
    assert first.startswith(prefix)
    tag, _, path = first.removeprefix(prefix).partition("/")
    assert tag == f"v{__version__}"  # the release tag of the ci-ml that wrote it
    assert (REPO / path).is_file()


def test_the_config_schema_is_ready_for_schemastore() -> None:
    schema = json.loads((REPO / "ci_ml" / "schemas" / "config.schema.json").read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://raw.githubusercontent.com/ci-ml/ci-ml/main/")
    assert schema["$id"].endswith("/ci_ml/schemas/config.schema.json")
    assert schema["title"] and len(schema["description"]) > 40


@pytest.mark.parametrize(
    ("url", "repository"),
    [
        ("git@github.com:octo/churn.git", "octo/churn"),
        ("https://github.com/octo/churn", "octo/churn"),
        ("https://github.com/octo/churn.git/", "octo/churn"),
        ("ssh://git@github.com/octo/my.model.git", "octo/my.model"),
        ("https://gitlab.com/octo/churn.git", None),
        ("https://notgithub.com/octo/churn.git", None),
    ],
)
def test_a_remote_url_names_its_github_repository(url: str, repository: str | None) -> None:
    assert repository_of(url) == repository
