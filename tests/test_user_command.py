"""model.command: the project's own training command instead of an estimator from config."""

from __future__ import annotations

import json
import sys
import textwrap

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
