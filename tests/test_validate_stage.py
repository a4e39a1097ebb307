"""Schema rules and drift inside the pipeline, through the CLI, as a user meets them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def _report(project):
    return json.loads((project / ".ci-ml/run/report.json").read_text())


def _append(project, text: str) -> None:
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text() + text)


def test_inferred_schema_passes_its_own_data_and_names_what_breaks(example, run_cli):
    project = example("penguins")
    inferred = run_cli("schema", "infer", "data/train.csv", "-o", "data-schema.yaml", cwd=project)
    assert inferred.code == 0, inferred.err
    again = run_cli("schema", "infer", "data/train.csv", "-o", "data-schema.yaml", cwd=project)
    assert again.code == 2 and "--force" in again.err
    _append(project, "validation:\n  schema_file: data-schema.yaml\n")
    assert run_cli("check", cwd=project).code == 0

    frame = pd.read_csv(project / "data/eval.csv")
    frame["bill_length_mm"] = frame["bill_length_mm"].astype(object)
    frame.loc[3, "bill_length_mm"] = "about 40"
    frame.loc[[5, 9], "island"] = "Atlantis"
    frame.to_csv(project / "data/eval.csv", index=False)
    result = run_cli("check", cwd=project)
    assert result.code == 1
    report = _report(project)
    assert report["verdict"] == "invalid-data"
    failures = {(f["column"], f["rule"]): f for f in report["validation"]["failures"]}
    assert (
        ("island", "allowed") in failures
        or ("island", "isin") in failures
        or any(c == "island" for c, _ in failures)
    )
    island = next(f for (c, _), f in failures.items() if c == "island")
    assert island["failing_rows"] == 2
    assert {e["row"] for e in island["examples"]} == {5, 9}
    assert "Atlantis" in island["message"]
    assert any(c == "bill_length_mm" for c, _ in failures)
    markdown = (project / ".ci-ml/run/report.md").read_text()
    assert "Data validation" in markdown and "Atlantis" in markdown


def test_a_schema_that_fails_its_own_json_schema_is_a_config_error(example, run_cli):
    project = example("penguins")
    (project / "data-schema.yaml").write_text("columns:\n  island: {type: text, min: low}\n")
    _append(project, "validation:\n  schema_file: data-schema.yaml\n")
    result = run_cli("validate", cwd=project)
    assert result.code == 2
    assert "island" in result.err and "Traceback" not in result.err


def _drifted_copy(project, shift: float) -> None:
    frame = pd.read_csv(project / "data/fresh.csv")
    rng = np.random.default_rng(0)
    frame["body_mass_g"] = frame["body_mass_g"] + shift + rng.normal(0, 10, len(frame))
    frame["flipper_length_mm"] = frame["flipper_length_mm"] * (1 + shift / 4000)
    frame.to_csv(project / "data/fresh.csv", index=False)


def test_drift_against_the_champion_warns_by_default_and_blocks_when_asked(example, run_cli):
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    assert (project / ".ci-ml/registry/versions/1/profile.json").is_file()
    _drifted_copy(project, shift=1500.0)
    warned = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    report = _report(project)
    assert report["verdict"] != "invalid-data", warned.out  # warn: the gate still decides
    drift = report["validation"]["drift"]
    assert {"body_mass_g", "flipper_length_mm"} <= set(drift["drifted_columns"])
    assert drift["target"]["role"] == "target" and drift["prediction"]["role"] == "prediction"
    fresh_rows = len(pd.read_csv(project / "data/fresh.csv"))  # all of them: under 10,000
    assert drift["prediction_sample"] == {"rows": fresh_rows, "size": fresh_rows, "seed": 0}
    assert any("data drift" in w for w in report["warnings"])
    markdown = (project / ".ci-ml/run/report.md").read_text()
    assert "Drift vs the champion's training data ⚠️" in markdown

    config = project / "ci-ml.fresh.yaml"
    config.write_text(config.read_text() + "drift:\n  action: block\n")
    blocked = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert blocked.code == 1
    assert _report(project)["verdict"] == "invalid-data"
    assert "drifted from the champion's" in _report(project)["reason"]


def test_drift_command_answers_with_its_exit_code_and_outputs(example, run_cli, monkeypatch):
    project = example("penguins")
    outputs = project / "outputs.txt"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    first = run_cli("drift", cwd=project)
    assert first.code == 0 and "no champion yet" in first.out
    assert run_cli("check", "--promote", cwd=project).code == 0
    same = run_cli("drift", cwd=project)
    assert same.code == 0, same.out + same.err
    _drifted_copy(project, shift=1500.0)
    moved = run_cli("drift", "--data", "data/fresh.csv", cwd=project)
    assert moved.code == 1
    assert "body_mass_g" in moved.out
    text = outputs.read_text()
    assert "drift=true" in text and "retrain=true" in text
    assert json.loads((project / ".ci-ml/run/drift.json").read_text())["dataset_drift"]


def test_a_column_added_since_the_champion_is_reported_not_fatal(example, run_cli):
    project = example("diabetes")
    assert run_cli("check", "--promote", cwd=project).code == 0
    frame = pd.read_csv(project / "data/fresh.csv")
    frame["clinic"] = "north"
    frame.to_csv(project / "data/fresh.csv", index=False)
    held = pd.read_csv(project / "data/eval.csv")
    held["clinic"] = "north"
    held.to_csv(project / "data/eval.csv", index=False)
    result = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert result.code in (0, 1), result.err
    report = _report(project)
    assert report["verdict"] != "invalid-data"
    added = [c for c in report["validation"]["drift"]["columns"] if c["column"] == "clinic"]
    assert added and added[0]["status"] == "added"
    assert any("clinic" in w for w in report["warnings"])
    assert run_cli("drift", "--data", "data/fresh.csv", cwd=project).code == 1


def test_retrain_on_drift_only_retrains_when_the_data_drifted(example, run_cli, monkeypatch):
    project = example("penguins")
    outputs = project / "outputs.txt"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert run_cli("check", "--promote", cwd=project).code == 0
    _append(project, "drift:\n  retrain_on_drift: true\n")
    assert run_cli("drift", cwd=project).code == 0
    assert "retrain=false" in outputs.read_text()
    outputs.unlink()
    _drifted_copy(project, shift=1500.0)
    assert run_cli("drift", "--data", "data/fresh.csv", cwd=project).code == 1
    assert "retrain=true" in outputs.read_text()


def _bad_batch(project) -> None:
    """Text in a number column, an infinity, and a number column turned into text."""
    frame = pd.read_csv(project / "data/fresh.csv")
    frame["bill_length_mm"] = frame["bill_length_mm"].astype(object)
    frame.loc[3, "bill_length_mm"] = "about 40"
    frame.loc[4, "body_mass_g"] = float("inf")
    frame["flipper_length_mm"] = "long"
    frame.to_csv(project / "data/fresh.csv", index=False)


def _judged_as_invalid_data(project, run_cli, command: str) -> dict:
    result = run_cli(command, "-c", "ci-ml.fresh.yaml", cwd=project)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err + result.out
    validation = json.loads((project / ".ci-ml/run/validation.json").read_text())
    assert not validation["passed"]
    failing = {f["column"]: f for f in validation["failures"] if f["severity"] == "error"}
    assert {"bill_length_mm", "body_mass_g", "flipper_length_mm"} <= set(failing)
    assert failing["bill_length_mm"]["examples"][0] == {"row": 3, "value": "about 40"}
    assert failing["body_mass_g"]["examples"][0]["row"] == 4
    assert failing["flipper_length_mm"]["failing_rows"] == len(
        pd.read_csv(project / "data/fresh.csv")
    )
    return validation


def test_a_bad_batch_with_a_champion_is_invalid_data_not_a_crash(example, run_cli):
    project = example("penguins")
    inferred = run_cli("schema", "infer", "data/train.csv", "-o", "data-schema.yaml", cwd=project)
    assert inferred.code == 0, inferred.err
    assert run_cli("check", "--promote", cwd=project).code == 0
    _bad_batch(project)
    _judged_as_invalid_data(project, run_cli, "validate")  # no schema: the champion's types
    _append_to(project, "ci-ml.fresh.yaml", "validation:\n  schema_file: data-schema.yaml\n")
    validation = _judged_as_invalid_data(project, run_cli, "check")
    assert validation["drift"]["champion"] == 1  # drift still compared the rows it could
    report = _report(project)
    assert report["verdict"] == "invalid-data"
    assert "about 40" in (project / ".ci-ml/run/report.md").read_text()


def _append_to(project, name: str, text: str) -> None:
    config = project / name
    config.write_text(config.read_text() + text)


def test_prediction_drift_predicts_a_seeded_sample_the_size_of_the_profiles() -> None:
    from ci_ml.stages.validate import prediction_sample

    frame = pd.DataFrame({"x": np.arange(50_000)})
    profile = {"prediction": {"rows": 2_000}}  # trained on 2,000 rows: 10,000 still
    sample = prediction_sample(profile, len(frame), seed=7)
    rows = sample.rows_of(frame)
    assert len(rows) == 10_000 and rows["x"].is_unique
    assert rows.equals(prediction_sample(profile, len(frame), seed=7).rows_of(frame))
    assert not rows.equals(prediction_sample(profile, len(frame), seed=8).rows_of(frame))
    assert sample.to_dict(9_990) == {"rows": 9_990, "size": 10_000, "seed": 7}
    small = frame.head(300)
    assert prediction_sample(profile, len(small), seed=7).rows_of(small) is small


def test_unchanged_training_data_does_not_drift_from_its_own_profile(example, run_cli):
    """The profile is built from the typed frame; the drift scan reads that frame too (the
    file is read once per run). Read as text, a CSV boolean column ("True") looked like
    all-new categories next to its profile ("true") and drifted from itself."""
    project = example("penguins")
    for name in ("train", "eval"):
        frame = pd.read_csv(project / f"data/{name}.csv")
        frame["tagged"] = frame["bill_length_mm"].fillna(0) > 42
        frame.to_csv(project / f"data/{name}.csv", index=False)
    assert "True" in (project / "data/train.csv").read_text()
    assert run_cli("check", "--promote", cwd=project).code == 0
    assert run_cli("check", cwd=project).code == 0
    drift = _report(project)["validation"]["drift"]
    assert drift["drifted_columns"] == [] and not drift["dataset_drift"]
    tagged = next(c for c in drift["columns"] if c["column"] == "tagged")
    assert tagged["kind"] == "categorical" and tagged["statistic"] == 0.0


def test_the_drift_scan_of_the_frame_matches_the_file_beside_booleans(tmp_path) -> None:
    """Numbers, text with nulls and an unseen category: the frame read once gives the very
    statistics the file read again as text gave."""
    from ci_ml.data import read_table
    from ci_ml.validation import build_profile, detect_drift

    rng = np.random.default_rng(3)
    rows = 5_000

    def table(shift: float) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "x": rng.normal(shift, 1, rows),
                "n": rng.integers(0, 9, rows),
                "c": rng.choice(["a", "b", "c"] + (["d"] if shift else []), rows),
            }
        )
        frame.loc[rng.random(rows) < 0.05, "x"] = np.nan
        frame.loc[rng.random(rows) < 0.05, "c"] = None
        return frame

    table(0.0).to_csv(tmp_path / "old.csv", index=False)
    table(0.3).to_csv(tmp_path / "new.csv", index=False)
    profile = build_profile(read_table(tmp_path / "old.csv"), seed=0)
    from_file = detect_drift(profile, tmp_path / "new.csv").to_dict()
    from_frame = detect_drift(profile, read_table(tmp_path / "new.csv")).to_dict()
    assert from_frame["columns"] == from_file["columns"]
    assert from_frame["drifted_columns"] == from_file["drifted_columns"] == ["c", "x"]
