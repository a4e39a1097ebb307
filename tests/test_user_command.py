"""model.command: the project's own training command instead of an estimator from config."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time

import pytest

TRAIN_SCRIPT = textwrap.dedent(
    """
    import os, pickle
    import pandas as pd
    from sklearn.linear_model import Ridge

    rows = pd.read_parquet(os.environ["CI_ML_TRAIN_PATH"])
    features = os.environ["CI_ML_FEATURES"].split(",")
    numeric = [c for c in features if rows[c].dtype.kind in "fi"]
    model = Ridge(alpha=float(os.environ.get("ALPHA", "1.0")))
    model.fit(rows[numeric], rows[os.environ["CI_ML_TARGET"]])
    model.feature_names_in_ = pd.Index(numeric).to_numpy(dtype=object)
    with open(os.environ["CI_ML_MODEL_PATH"], "wb") as handle:
        pickle.dump(model, handle)
    """
)


def _use_command(project, command: str) -> None:
    config = project / "ci-ml.yaml"
    text = config.read_text().replace(
        "  estimator: sklearn.linear_model.Ridge\n  params: {alpha: 1.0}\n",
        f"  command: {command}\n",
    )
    text = text.replace("  target: progression\n", "  target: progression\n  drop: [sex]\n")
    config.write_text(text)


def test_own_command_trains_the_challenger(example, run_cli):
    project = example("diabetes")
    (project / "train.py").write_text(TRAIN_SCRIPT)
    _use_command(project, f"{sys.executable} train.py")
    result = run_cli("check", cwd=project)
    assert result.code == 0, result.err
    card = json.loads((project / ".ci-ml/run/challenger/model-card.json").read_text())
    assert card["command"] == [sys.executable, "train.py"]
    assert card["estimator"] == "sklearn.linear_model._ridge.Ridge"
    metrics = json.loads((project / ".ci-ml/run/metrics.json").read_text())["metrics"]
    assert metrics["r2"]["challenger"] > 0.3
    assert not (project / ".ci-ml/run/challenger/train-rows.parquet").exists()


def test_failing_command_is_an_environment_error_with_its_output(example, run_cli):
    project = example("diabetes")
    (project / "train.py").write_text(
        "import sys\nprint('no GPU here', file=sys.stderr)\nsys.exit(4)\n"
    )
    _use_command(project, f"{sys.executable} train.py")
    result = run_cli("check", cwd=project)
    assert result.code == 3
    assert "model.command exited with 4" in result.err
    assert "no GPU here" in result.err
    failure = json.loads((project / ".ci-ml/run/challenger/training-failed.json").read_text())
    assert (failure["reason"], failure["returncode"], failure["output_tail"]) == (
        "exit",
        4,
        "no GPU here",
    )


def test_command_that_writes_no_model(example, run_cli):
    project = example("diabetes")
    (project / "train.py").write_text("print('done')\n")
    _use_command(project, f"{sys.executable} train.py")
    result = run_cli("check", cwd=project)
    assert result.code == 3
    assert "wrote no model to $CI_ML_MODEL_PATH" in result.err


def test_estimator_and_command_together_is_a_config_error(example, run_cli):
    project = example("diabetes")
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("  params:", "  command: python x.py\n  params:"))
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "model: expected exactly one of 'estimator' or 'command'" in result.err


HANGING_SCRIPT = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time

    if sys.argv[1:] == ["stubborn"]:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL stops it
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open("child.pid", "w") as handle:
        handle.write(str(child.pid))
    with open(os.environ["CI_ML_MODEL_PATH"], "wb") as handle:
        handle.write(b"half a model")  # never finished: must not be picked up
    print("epoch 1 of 1000", flush=True)
    time.sleep(600)
    """
)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("how", ["", "stubborn"])
def test_a_command_past_model_timeout_is_stopped_with_its_children_and_nothing_promoted(
    example, run_cli, monkeypatch, how
):
    from ci_ml import user_command

    monkeypatch.setattr(user_command, "GRACE_SECONDS", 1.0)
    project = example("diabetes")
    (project / "train.py").write_text(HANGING_SCRIPT)
    _use_command(project, f"{sys.executable} train.py {how}".strip())
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("  command:", "  timeout: 2s\n  command:"))
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 3, result.err
    assert "train.py" in result.err and "ran past model.timeout 2s" in result.err
    assert "epoch 1 of 1000" in result.err and "nothing was promoted" in result.err
    assert _gone(int((project / "child.pid").read_text()))  # the whole group went
    challenger = project / ".ci-ml/run/challenger"
    assert sorted(p.name for p in challenger.iterdir()) == ["training-failed.json"]
    failure = json.loads((challenger / "training-failed.json").read_text())
    assert failure["reason"] == "timeout" and failure["limit_seconds"] == 2.0
    assert failure["command"][-1 if not how else -2] == "train.py"
    assert not (project / ".ci-ml/registry/champion.json").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("10", "model.timeout: expected a duration such as '90s', '45m' or '6h', got 10"),
        ("ten minutes", "model.timeout: expected a duration such as '90s'"),
        ("0s", "model.timeout: expected a duration above zero, got '0s'"),
    ],
)
def test_a_bad_model_timeout_is_a_config_error_naming_the_field(example, run_cli, value, expected):
    project = example("diabetes")
    _use_command(project, f"{sys.executable} train.py")
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("  command:", f"  timeout: {value}\n  command:"))
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert expected in result.err


def test_model_timeout_without_a_command_is_a_config_error(example, run_cli):
    project = example("diabetes")
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("  params:", "  timeout: 1h\n  params:"))
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "model.timeout: limits model.command only" in result.err


def test_model_timeout_defaults_under_a_hosted_jobs_six_hours(example):
    from ci_ml.config import load_config

    project = example("diabetes")
    _use_command(project, f"{sys.executable} train.py")
    assert load_config(project / "ci-ml.yaml").model.timeout == 5 * 3600


def test_a_cancelled_ci_ml_stops_its_running_command_too(example):
    import signal
    import subprocess

    project = example("diabetes")
    (project / "train.py").write_text(HANGING_SCRIPT)
    _use_command(project, f"{sys.executable} train.py")
    ci_ml = subprocess.Popen(
        [sys.executable, "-m", "ci_ml", "train"], cwd=project, stderr=subprocess.PIPE, text=True
    )
    pid_file = project / "child.pid"
    deadline = time.monotonic() + 60
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline and ci_ml.poll() is None, "the command never started"
        time.sleep(0.1)
    ci_ml.send_signal(signal.SIGTERM)  # as a cancelled job's runner does
    assert ci_ml.wait(timeout=30) == 128 + signal.SIGTERM
    assert _gone(int(pid_file.read_text()))
    assert sorted((project / ".ci-ml/run/challenger").iterdir()) == []  # no half a model
