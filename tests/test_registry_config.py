"""The `registry:` section chooses the backend; bad choices are config errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

REGISTRY = "registry:\n  backend: local\n  path: .ci-ml/registry\n"


def _registry(project: Path, section: str) -> None:
    path = project / "ci-ml.yaml"
    text = path.read_text()
    assert REGISTRY in text
    path.write_text(text.replace(REGISTRY, section))


def test_an_unknown_backend_names_the_key_and_the_allowed_values(example, run_cli):
    project = example("diabetes")
    _registry(project, "registry:\n  backend: s3\n")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 2
    assert "registry.backend: expected one of 'local', 'mlflow', 'github-releases'" in result.err
    assert "got 's3'" in result.err


def test_a_key_of_another_backend_is_rejected_by_name(example, run_cli):
    project = example("diabetes")
    _registry(project, "registry:\n  backend: mlflow\n  path: .ci-ml/registry\n")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 2
    assert "registry.path: not a setting of registry.backend 'mlflow'" in result.err
    assert "tracking_uri, model_name" in result.err


def test_mlflow_keys_without_a_backend_are_rejected(example, run_cli):
    project = example("diabetes")
    _registry(project, "registry:\n  model_name: diabetes\n")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 2
    assert "registry.model_name: not a setting of registry.backend 'local'" in result.err


def test_credentials_in_the_tracking_uri_are_refused_and_not_echoed(example, run_cli):
    project = example("diabetes")
    uri = "https://alice:s3cret-pw@mlflow.example.com"
    _registry(project, f"registry:\n  backend: mlflow\n  tracking_uri: {uri}\n")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 2
    assert "credentials do not belong in ci-ml.yaml" in result.err
    assert "s3cret-pw" not in result.err + result.out


def test_mlflow_without_a_tracking_uri_is_an_environment_error(example, run_cli, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = example("diabetes")
    _registry(project, "registry:\n  backend: mlflow\n")
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert "set MLFLOW_TRACKING_URI" in result.err


def test_mlflow_takes_its_server_from_the_environment_it_is_handed(example, monkeypatch):
    from ci_ml.config import load_config
    from ci_ml.environment import Environment
    from ci_ml.errors import EnvironmentProblem
    from ci_ml.registry import open_registry

    from .mlflow_server import free_port

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    project = example("diabetes")
    _registry(project, "registry:\n  backend: mlflow\n")
    uri = f"http://127.0.0.1:{free_port()}"
    env = Environment({"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_TOKEN": "tok-4711"})
    with pytest.raises(EnvironmentProblem, match=f"MLflow tracking server {uri} is unreachable"):
        open_registry(load_config(project / "ci-ml.yaml"), env)
    with pytest.raises(EnvironmentProblem, match="set MLFLOW_TRACKING_URI"):
        open_registry(load_config(project / "ci-ml.yaml"), Environment({}))


def test_model_name_defaults_to_the_config_name(example):
    from ci_ml.config import load_config

    project = example("diabetes")
    _registry(project, "registry:\n  backend: mlflow\n  tracking_uri: http://127.0.0.1:1\n")
    settings = load_config(project / "ci-ml.yaml").registry
    assert (settings.backend, settings.model_name) == ("mlflow", "diabetes")
    assert settings.tracking_uri == "http://127.0.0.1:1"
