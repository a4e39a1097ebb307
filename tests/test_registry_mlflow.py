"""MLflow-only behaviour: faults (unreachable, dying server), outside changes, and the
whole loop through the CLI against a real tracking server on 127.0.0.1."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ci_ml.errors import EnvironmentProblem
from ci_ml.registry import mlflow as mlflow_registry
from ci_ml.registry.mlflow import LEASE_TAG, Lease, MlflowRegistry
from tests.mlflow_server import Proxy, free_port
from tests.registry_support import WHO, trained_folder

FAST = Lease(ttl=30, window=0.3, settle=0.4, wait=30)
REGISTRY = "registry:\n  backend: local\n  path: .ci-ml/registry\n"


def _use_mlflow(project: Path, section: str) -> None:
    for name in ("ci-ml.yaml", "ci-ml.fresh.yaml"):
        path = project / name
        path.write_text(path.read_text().replace(REGISTRY, section))


@pytest.fixture
def fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """No client retries: a dead server fails the first request."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def test_an_unreachable_server_is_a_clear_environment_error(example, run_cli):
    project = example("diabetes")
    uri = f"http://127.0.0.1:{free_port()}"
    _use_mlflow(project, f"registry:\n  backend: mlflow\n  tracking_uri: {uri}\n")
    started = time.monotonic()
    result = run_cli("registry", "list", cwd=project)
    assert result.code == 3
    assert f"MLflow tracking server {uri} is unreachable" in result.err
    assert "Traceback" not in result.err
    assert time.monotonic() - started < 10


def test_a_server_dying_mid_upload_registers_nothing(
    mlflow_server, model_name, tmp_path, monkeypatch, fail_fast
):
    proxy = Proxy(mlflow_server.uri)
    registry = MlflowRegistry(proxy.uri, model_name, FAST)
    registry.add(trained_folder(tmp_path, "a"))
    upload = registry._client.log_artifact

    def upload_then_die(*args, **kwargs):
        upload(*args, **kwargs)
        proxy.cut()

    monkeypatch.setattr(registry._client, "log_artifact", upload_then_die)
    with pytest.raises(EnvironmentProblem, match="uploading the model failed"):
        registry.add(trained_folder(tmp_path, "b"))
    direct = MlflowRegistry(mlflow_server.uri, model_name, FAST)
    assert [v.number for v in direct.versions()] == [1]
    assert direct.add(trained_folder(tmp_path, "c")).number == 2


def test_a_server_dying_between_add_and_promote_leaves_the_champion(
    mlflow_server, model_name, tmp_path, fail_fast
):
    proxy = Proxy(mlflow_server.uri)
    registry = MlflowRegistry(proxy.uri, model_name, FAST)
    registry.add(trained_folder(tmp_path, "a"))
    registry.promote(1, None, WHO)
    registry.add(trained_folder(tmp_path, "b"))
    proxy.cut()
    with pytest.raises(EnvironmentProblem, match="failed"):
        registry.promote(2, 1, WHO)
    direct = MlflowRegistry(mlflow_server.uri, model_name, FAST)
    assert direct.champion().number == 1
    assert [e["version"] for e in direct.audit_log()] == [1]


def test_a_server_dying_while_holding_the_lease_moves_nothing_and_the_lease_expires(
    mlflow_server, model_name, tmp_path, monkeypatch, fail_fast
):
    proxy = Proxy(mlflow_server.uri)
    short = Lease(ttl=2, window=0.3, settle=0.4, wait=30)
    registry = MlflowRegistry(proxy.uri, model_name, short)
    for name in "ab":
        registry.add(trained_folder(tmp_path, name))
    registry.promote(1, None, WHO)
    move = registry._client.set_registered_model_alias

    def die_then_move(*args, **kwargs):
        proxy.cut()
        move(*args, **kwargs)

    monkeypatch.setattr(registry._client, "set_registered_model_alias", die_then_move)
    with pytest.raises(EnvironmentProblem, match="moving the champion alias failed"):
        registry.promote(2, 1, WHO)
    direct = MlflowRegistry(mlflow_server.uri, model_name, short)
    assert direct.champion().number == 1
    assert len(direct.audit_log()) == 1
    assert LEASE_TAG in direct._state()[1]  # left behind by the dead run...
    direct.promote(2, 1, WHO)  # ...and taken over once it expired
    assert direct.champion().number == 2


def test_a_slow_lease_write_backs_off_then_renews_its_own_lease(
    mlflow_server, model_name, tmp_path, monkeypatch
):
    # a window wide enough that only the deliberately slow write misses it, even on a
    # loaded machine (the second, ordinary write must land within it)
    lease = Lease(ttl=30, window=2.0, settle=2.5, wait=30)
    registry = MlflowRegistry(mlflow_server.uri, model_name, lease)
    registry.add(trained_folder(tmp_path, "a"))
    write, writes = registry._write_lease, []

    def slow_first_write(value: str) -> bool:
        writes.append(json.loads(value)["token"])
        done = write(value)
        if len(writes) == 1:
            time.sleep(lease.window + 0.2)  # acknowledged too late to trust
        return done

    monkeypatch.setattr(registry, "_write_lease", slow_first_write)
    registry.promote(1, None, WHO)
    assert len(writes) == 2 and writes[0] == writes[1]
    assert registry.champion().number == 1
    assert LEASE_TAG not in registry._state()[1]  # released when done


def test_an_alias_moved_outside_ci_ml_is_logged_before_the_next_change(
    mlflow_server, model_name, tmp_path
):
    registry = MlflowRegistry(mlflow_server.uri, model_name, FAST)
    for name in "abc":
        registry.add(trained_folder(tmp_path, name))
    registry.promote(1, None, WHO)
    registry._client.set_registered_model_alias(model_name, "champion", "2")  # the MLflow UI
    registry.promote(3, 2, WHO)
    events = [(e["event"], e["version"], e["previous"]) for e in registry.audit_log()]
    assert events == [("promote", 1, None), ("sync", 2, 1), ("promote", 3, 2)]
    assert registry.rollback(WHO).number == 2
    assert registry.rollback(WHO).number == 1


def test_version_tags_carry_the_lineage(mlflow_server, model_name, tmp_path):
    registry = MlflowRegistry(mlflow_server.uri, model_name, FAST)
    registry.add(trained_folder(tmp_path, "a"))
    tags = registry._client.get_model_version(model_name, "1").tags
    card = json.loads((tmp_path / "a" / "model-card.json").read_text())
    assert tags["sha256"] == card["model_file"]["sha256"]
    assert tags["commit"] == "c0ffeea"
    assert tags["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert tags["data.train.sha256"] == "1" * 64 and tags["data.eval.sha256"] == "2" * 64
    assert tags["metric.accuracy"] == "0.75"


def test_check_promote_list_and_rollback_through_the_cli(
    example, run_cli, mlflow_server, model_name, monkeypatch
):
    secret = "tok-never-printed-4711"
    monkeypatch.setattr(mlflow_registry, "Lease", lambda: FAST)  # the CLI's lease, shorter
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    project = example("diabetes")
    _use_mlflow(project, f"registry:\n  backend: mlflow\n  model_name: {model_name}\n")
    results = [run_cli("check", "--promote", cwd=project)]
    results.append(run_cli("check", "-c", "ci-ml.fresh.yaml", "--promote", cwd=project))
    assert [r.code for r in results] == [0, 0], results[-1].err
    results.append(run_cli("registry", "list", "--json", cwd=project))
    listed = json.loads(results[-1].out)
    assert listed["champion"] == 2
    assert [v["version"] for v in listed["versions"]] == [1, 2]
    results.append(run_cli("rollback", "--reason", "bad in prod", cwd=project))
    assert results[-1].code == 0 and "version 1 is the champion again" in results[-1].out
    results.append(run_cli("registry", "history", "--json", cwd=project))
    history = json.loads(results[-1].out)["audit"]
    assert [(e["event"], e["version"], e["previous"]) for e in history] == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("rollback", 1, 2),
    ]
    results.append(run_cli("registry", "show", "--format", "json", cwd=project))
    assert json.loads(results[-1].out)["version"] == 1
    results.append(run_cli("registry", "history", cwd=project))
    assert "bad in prod" in results[-1].out and results[-1].code == 0
    results.append(run_cli("registry", "list", cwd=project))
    assert "sklearn.linear_model.Ridge" in results[-1].out
    for result in results:
        assert secret not in result.out + result.err


@pytest.mark.parametrize("name", ["penguins", "diabetes"])  # with and without text columns
def test_the_champion_is_a_real_mlflow_model_that_predicts_as_ci_ml_does(
    name, example, run_cli, mlflow_server, model_name, monkeypatch
):
    import mlflow

    from ci_ml.bundle import open_model
    from ci_ml.config import load_config
    from ci_ml.datasets import load_datasets
    from ci_ml.training import model_features

    monkeypatch.setattr(mlflow_registry, "Lease", lambda: FAST)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    project = example(name)
    _use_mlflow(project, f"registry:\n  backend: mlflow\n  model_name: {model_name}\n")
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 0, result.err

    served = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    registry = MlflowRegistry(mlflow_server.uri, model_name, FAST)
    own = open_model(registry.model_file(1)).model
    config = load_config(project / "ci-ml.yaml")
    rows = model_features(load_datasets(config).x_eval)  # the eval rows, as ci-ml scores them
    assert list(served.predict(rows)) == list(own.predict(rows))

    info = served.metadata
    assert info.flavors.keys() >= {"python_function", "sklearn"}
    assert [c.name for c in info.get_input_schema().inputs] == list(rows.columns)
    assert info.saved_input_example_info is not None
    run = registry._client.get_run(registry._client.get_model_version(model_name, "1").run_id)
    card = registry.version(1).card
    assert run.data.metrics == pytest.approx(card["metrics"])
    assert run.data.params["estimator"] == card["estimator"]
