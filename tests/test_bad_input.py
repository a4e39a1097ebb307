"""Every bad input gets a clear message and the right exit code, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


def _edit(project: Path, old: str, new: str, name: str = "ci-ml.yaml") -> None:
    path = project / name
    text = path.read_text()
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new))


def _no_traceback(result) -> None:
    assert "Traceback" not in result.err + result.out


def test_missing_config_is_a_usage_error(tmp_path, run_cli):
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 2
    assert "ci-ml.yaml: config file not found" in result.err
    _no_traceback(result)


def test_yaml_syntax_error_names_the_line(example, run_cli):
    project = example("penguins")
    _edit(project, "task: classification", "task: [classification")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "YAML syntax error (line" in result.err
    _no_traceback(result)


def test_unknown_key_is_named_with_a_suggestion(example, run_cli):
    project = example("penguins")
    _edit(project, "metrics:", "metricz: [accuracy]\nmetrics:")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "unknown key 'metricz' (did you mean 'metrics'?)" in result.err


def test_wrong_type_names_the_key_path_expected_and_found(example, run_cli):
    project = example("penguins")
    _edit(project, "{metric: accuracy, min: 0.90}", "{metric: accuracy, min: high}")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "gate[1].min: expected a number, got 'high'" in result.err
    assert "line 15" in result.err


def test_gate_without_rules_is_a_config_error(example, run_cli):
    project = example("diabetes")
    text = (project / "ci-ml.yaml").read_text()
    head = text.split("gate:")[0]
    (project / "ci-ml.yaml").write_text(head + "gate: []\nregistry: {backend: local}\n")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "gate: expected at least 1 item(s), got 0" in result.err


def test_estimator_that_does_not_import(example, run_cli):
    project = example("penguins")
    _edit(project, "sklearn.ensemble.RandomForestClassifier", "sklearn.ensemble.RandomForrest")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "model.estimator: 'sklearn.ensemble' has no 'RandomForrest'" in result.err
    assert "RandomForestClassifier" in result.err  # suggested
    _edit(project, "sklearn.ensemble.RandomForrest", "nosuchpkg.Model")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "cannot import 'nosuchpkg.Model'" in result.err
    _no_traceback(result)


def test_unknown_estimator_parameter_is_named(example, run_cli):
    project = example("penguins")
    _edit(project, "n_estimators: 200", "n_estimator: 200")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "model.params.n_estimator" in result.err and "'n_estimators'" in result.err


def test_unknown_scorer_name(example, run_cli):
    project = example("penguins")
    _edit(project, "metrics: [f1_macro, accuracy, neg_log_loss]", "metrics: [f1_macro, acuracy]")
    _edit(project, "  - {metric: neg_log_loss, max: 0.5}", "")
    _edit(project, "  - {metric: accuracy, min: 0.90}", "")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "metrics[1]: unknown metric 'acuracy': not a scikit-learn scorer name" in result.err
    assert "did you mean accuracy" in result.err


def test_rule_on_a_metric_that_is_not_computed(example, run_cli):
    project = example("penguins")
    _edit(project, "{metric: accuracy, min: 0.90}", "{metric: recall_macro, min: 0.90}")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "gate[1].metric: metric 'recall_macro' is not among metrics" in result.err
    assert not (project / ".ci-ml/run/challenger").exists()  # failed before training


def test_probability_metric_with_an_estimator_without_probabilities(example, run_cli):
    project = example("penguins")
    _edit(project, "sklearn.ensemble.RandomForestClassifier", "sklearn.svm.SVC")
    _edit(project, "{n_estimators: 200, random_state: 0}", "{C: 1.0}")
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "'neg_log_loss' needs predict_proba" in result.err
    assert "probability: true" in result.err


def test_target_column_missing_is_invalid_data(example, run_cli):
    project = example("penguins")
    _edit(project, "target: species", "target: specie")
    result = run_cli("check", cwd=project)
    assert result.code == 1
    report = json.loads((project / ".ci-ml/run/report.json").read_text())
    assert report["verdict"] == "invalid-data"
    assert "'specie' named by data.target not found" in report["reason"]
    assert "'species'" in report["reason"]  # the columns it does have


def test_empty_data_file_is_invalid_data(example, run_cli):
    project = example("penguins")
    (project / "data/train.csv").write_text("")
    result = run_cli("check", cwd=project)
    assert result.code == 1
    assert "train.csv: the file is empty" in result.out
    _no_traceback(result)


def test_header_only_file_is_invalid_data(example, run_cli):
    project = example("penguins")
    header = (project / "data/eval.csv").read_text().splitlines()[0]
    (project / "data/eval.csv").write_text(header + "\n")
    result = run_cli("validate", cwd=project)
    assert result.code == 1
    assert "eval.csv: no data rows (the file has a header only)" in result.err


def test_ragged_csv_is_invalid_data(example, run_cli):
    project = example("penguins")
    with (project / "data/train.csv").open("a") as handle:
        handle.write("Adelie,Dream,1.0\n")
    result = run_cli("check", cwd=project)
    assert result.code == 1
    assert "ragged rows" in result.out


def test_data_file_not_found_is_an_environment_error(example, run_cli):
    project = example("penguins")
    (project / "data/train.csv").unlink()
    result = run_cli("check", cwd=project)
    assert result.code == 3
    assert "train.csv: data file not found" in result.err
    _no_traceback(result)


def test_corrupt_parquet_is_invalid_data(example, run_cli):
    project = example("penguins")
    (project / "data/train.parquet").write_bytes(b"PAR1 this is not really parquet PAR1")
    _edit(project, "train: data/train.csv", "train: data/train.parquet")
    result = run_cli("check", cwd=project)
    assert result.code == 1
    assert "train.parquet: not a readable Parquet file" in result.out
    _no_traceback(result)


def test_parquet_data_works_like_csv(example, run_cli):
    import pandas as pd

    project = example("penguins")
    pd.read_csv(project / "data/train.csv").to_parquet(project / "data/train.parquet")
    _edit(project, "train: data/train.csv", "train: data/train.parquet")
    result = run_cli("check", cwd=project)
    assert result.code == 0, result.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_registry_folder_not_writable_is_an_environment_error(example, run_cli):
    project = example("diabetes")
    registry = project / ".ci-ml/registry"
    registry.mkdir(parents=True)
    registry.chmod(0o500)
    try:
        result = run_cli("check", "--promote", cwd=project)
    finally:
        registry.chmod(0o700)
    assert result.code == 3
    assert "registry folder is not writable" in result.err


def test_registry_path_that_is_a_file_is_an_environment_error(example, run_cli):
    project = example("diabetes")
    (project / ".ci-ml").mkdir()
    (project / ".ci-ml/registry").write_text("not a folder")
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 3
    assert "registry folder is not writable" in result.err
    _no_traceback(result)


def test_tampered_champion_model_is_refused(example, run_cli):
    project = example("diabetes")
    assert run_cli("check", "--promote", cwd=project).code == 0
    model = next((project / ".ci-ml/registry/versions/1").glob("model.*"))
    model.write_bytes(model.read_bytes() + b"\x00")
    result = run_cli("check", cwd=project)
    assert result.code == 3
    assert "does not match its record" in result.err
    assert "refusing to load it" in result.err
    _no_traceback(result)


def test_tampered_challenger_model_is_refused_by_evaluate(example, run_cli):
    project = example("diabetes")
    assert run_cli("train", cwd=project).code == 0
    model = next((project / ".ci-ml/run/challenger").glob("model.*"))
    model.write_bytes(b"\x80\x04junk")
    result = run_cli("evaluate", cwd=project)
    assert result.code == 3
    assert "does not match its record" in result.err


def test_stage_run_out_of_order_says_what_to_run(example, run_cli):
    project = example("diabetes")
    result = run_cli("gate", cwd=project)
    assert result.code == 3
    assert "metrics.json: not found; run `ci-ml evaluate` first" in result.err


def test_run_folder_that_is_a_file_is_an_environment_error_naming_it(example, run_cli):
    project = example("diabetes")
    (project / ".ci-ml").mkdir()
    (project / ".ci-ml/run").write_text("not a folder")  # the default run folder
    for command in ("check", "validate"):
        result = run_cli(command, cwd=project)
        assert result.code == 3, result.err
        assert ".ci-ml/run: expected a run folder, found a file" in result.err
        _no_traceback(result)
    result = run_cli("validate", "--run-dir", ".ci-ml/run/inner", cwd=project)
    assert result.code == 3 and ".ci-ml/run: expected a run folder, found a file" in result.err
    given = run_cli("validate", "--run-dir", ".ci-ml/run", cwd=project)  # click says it first
    assert given.code == 2 and "'.ci-ml/run' is a file" in given.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_run_folder_is_an_environment_error_naming_it(example, run_cli):
    project = example("diabetes")
    run = project / "run"
    run.mkdir()
    run.chmod(0o500)
    try:
        result = run_cli("check", "--run-dir", "run", cwd=project)
    finally:
        run.chmod(0o700)
    assert result.code == 3
    assert str(run.name) in result.err and "Permission denied" in result.err
    _no_traceback(result)


def test_run_folder_files_are_readable_by_later_ci_steps(example, run_cli):
    project = example("diabetes")
    assert run_cli("check", cwd=project).code == 0
    run = project / ".ci-ml/run"
    for name in ("validation.json", "metrics.json", "decision.json", "report.json", "report.md"):
        assert (run / name).stat().st_mode & 0o777 == 0o644, name
    assert (run / "challenger/model-card.json").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("positive", ["Yes", "No"])
def test_pos_label_names_the_class_binary_metrics_score(positive, tmp_path, run_cli):
    import numpy as np
    import pandas as pd
    from sklearn.metrics import f1_score, precision_score

    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    for name, n in (("train", 160), ("eval", 80)):
        x = rng.normal(size=n)
        churn = np.where(x + rng.normal(scale=0.8, size=n) > 0.3, "Yes", "No")
        frame = pd.DataFrame({"x": x.round(4), "churn": churn})
        frame.to_csv(tmp_path / f"data/{name}.csv", index=False)
    (tmp_path / "ci-ml.yaml").write_text(
        "version: 1\ntask: classification\n"
        "data: {train: data/train.csv, eval: data/eval.csv, target: churn, "
        f'pos_label: "{positive}"}}\n'
        "model: {estimator: sklearn.linear_model.LogisticRegression}\n"
        "metrics: [f1, precision, average_precision]\ngate:\n  - {metric: f1, min: 0.0}\n"
    )
    result = run_cli("check", cwd=tmp_path)
    assert result.code == 0, result.err
    run = tmp_path / ".ci-ml/run"
    scored = json.loads((run / "metrics.json").read_text())["metrics"]
    rows = pd.read_parquet(run / "predictions.parquet")
    truth, predicted = rows["y_true"], rows["challenger_pred"]
    assert scored["f1"]["challenger"] == pytest.approx(
        f1_score(truth, predicted, pos_label=positive)
    )
    assert scored["precision"]["challenger"] == pytest.approx(
        precision_score(truth, predicted, pos_label=positive)
    )
