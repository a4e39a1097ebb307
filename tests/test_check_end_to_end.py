"""`ci-ml check` on the bundled examples, as a newcomer runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from ci_ml.config import shipped_schema


def _report(project: Path) -> dict:
    return json.loads((project / ".ci-ml/run/report.json").read_text())


def test_first_run_promotes_over_the_baseline_and_skips_champion_rules(example, run_cli):
    project = example("penguins")
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 0, result.err
    report = _report(project)
    assert report["verdict"] == "promote"
    assert report["champion"] is None
    assert "no champion yet" in report["reason"]
    skipped = [r for r in report["rules"] if r["status"] == "skipped"]
    assert [r["kind"] for r in skipped] == ["min_delta"]
    assert report["promoted"] == 1
    assert "Challenger vs the baseline DummyClassifier(strategy='prior')" in result.out
    header = result.out.split("\n\n")[3].splitlines()[0].split()  # the metrics table's
    assert header[:3] == ["metric", "baseline", "challenger"]
    judged = [r for r in report["rules"] if r["rule"] == "evaluation.baseline"]
    assert [(r["status"], r["against"], r["test"]) for r in judged] == [
        ("pass", "baseline", "paired bootstrap")
    ]
    assert report["compared_with"] == "baseline"
    assert report["baseline"]["estimator"] == "sklearn.dummy.DummyClassifier(strategy='prior')"
    written = ".ci-ml/run/report.md, .ci-ml/run/report.json, .ci-ml/run/report.html"
    assert f"report: wrote {written}" in result.err
    assert (project / ".ci-ml/run/report.html").read_text().startswith("<!doctype html>")
    assert json.loads((project / ".ci-ml/registry/champion.json").read_text())["version"] == 1


def test_fresh_batch_is_compared_with_the_champion_on_the_same_rows(example, run_cli):
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    result = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    assert result.code == 0, result.err
    report = _report(project)
    assert report["champion"] == 1
    f1 = report["metrics"]["f1_macro"]
    assert f1["delta"] == pytest.approx(f1["challenger"] - f1["champion"])
    log_loss = report["metrics"]["neg_log_loss"]
    assert log_loss["display_name"] == "log_loss" and log_loss["lower_is_better"]
    assert log_loss["shown"]["challenger"] == pytest.approx(-log_loss["challenger"])
    predictions = pd.read_parquet(project / ".ci-ml/run/predictions.parquet")
    eval_rows = pd.read_csv(project / "data/eval.csv")
    assert len(predictions) == len(eval_rows) == report["eval"]["rows"]
    assert list(predictions["y_true"]) == list(eval_rows["species"])
    assert {"challenger_pred", "champion_pred"} <= set(predictions.columns)


RECORD_SCHEMAS = {
    "validation.json": "validation.schema.json",
    "metrics.json": "evaluation.schema.json",
    "decision.json": "decision.schema.json",
}


def test_report_json_follows_its_published_schema(example, run_cli):
    project = example("diabetes")
    run_cli("check", "--promote", cwd=project)
    run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    report = _report(project)
    errors = list(Draft202012Validator(shipped_schema("report.schema.json")).iter_errors(report))
    assert errors == []
    for name, schema in RECORD_SCHEMAS.items():
        record = json.loads((project / ".ci-ml/run" / name).read_text())
        assert list(Draft202012Validator(shipped_schema(schema)).iter_errors(record)) == [], name
    assert set(report["metrics"]) == {
        "neg_root_mean_squared_error",
        "r2",
        "neg_mean_absolute_error",
    }
    assert all(isinstance(rule["reason"], str) and rule["reason"] for rule in report["rules"])


def test_model_card_records_lineage(example, run_cli, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    project = example("diabetes")
    assert run_cli("check", cwd=project).code == 0
    card = json.loads((project / ".ci-ml/run/challenger/model-card.json").read_text())
    assert card["actor"] == "octocat"
    assert card["estimator"] == "sklearn.linear_model.Ridge"
    assert card["params"]["alpha"] == 1.0
    assert len(card["data"]["train"]["sha256"]) == 64
    assert len(card["data"]["eval"]["sha256"]) == 64
    assert card["data"]["train"]["rows"] == 200
    assert card["data"]["eval"]["rows"] == 111
    assert len(card["config_hash"]) == 64
    assert card["seed"] == 0
    assert {"python", "scikit_learn", "ci_ml"} <= set(card["versions"])
    metrics = json.loads((project / ".ci-ml/run/metrics.json").read_text())["metrics"]
    assert metrics["r2"]["challenger"] > 0.3  # evaluate's record; train's card is not rewritten
    assert card["metrics"] == {}
    assert card["created_at"].endswith("+00:00")
    assert card["model_file"]["format"] == "skops"


def test_stages_run_one_by_one_give_the_same_verdict_as_check(example, run_cli):
    project = example("penguins")
    for stage in ("validate", "train", "evaluate", "gate"):
        result = run_cli(stage, cwd=project)
        assert result.code == 0, (stage, result.err)
    result = run_cli("report", "--format", "json", cwd=project)
    assert result.code == 0
    assert json.loads(result.out)["verdict"] == "promote"
    assert run_cli("promote", cwd=project).code == 0
    listed = run_cli("registry", "list", "--json", cwd=project)
    assert json.loads(listed.out)["champion"] == 1


def test_blocked_challenger_exits_1_and_is_not_promoted(example, run_cli):
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    weak = (
        (project / "ci-ml.yaml")
        .read_text()
        .replace(
            "params: {n_estimators: 200, random_state: 0}",
            "params: {n_estimators: 1, max_depth: 1}",
        )
    )
    (project / "ci-ml.yaml").write_text(weak)
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 1
    report = _report(project)
    assert report["verdict"] == "block"
    assert report["reason"].startswith("gate[")
    assert json.loads(run_cli("registry", "list", "--json", cwd=project).out)["champion"] == 1
    assert run_cli("promote", cwd=project).code == 1


def test_rollback_restores_previous_champion_and_logs_it(example, run_cli):
    project = example("diabetes")
    run_cli("check", "--promote", cwd=project)
    run_cli("check", "-c", "ci-ml.fresh.yaml", "--promote", cwd=project)
    assert run_cli("rollback", "--reason", "bad in prod", cwd=project).code == 0
    listed = json.loads(run_cli("registry", "list", "--json", cwd=project).out)
    assert listed["champion"] == 1
    history = json.loads(run_cli("registry", "history", "--json", cwd=project).out)["audit"]
    assert [(e["event"], e["version"], e["previous"]) for e in history] == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("rollback", 1, 2),
    ]
    assert history[-1]["reason"] == "bad in prod"
    assert run_cli("rollback", cwd=project).code == 1  # nothing earlier than version 1


def test_eval_split_when_no_eval_file_is_seeded_and_stratified(example, run_cli):
    project = example("penguins")
    config = (project / "ci-ml.yaml").read_text().replace("  eval: data/eval.csv", "")
    (project / "ci-ml.yaml").write_text(config)
    assert run_cli("check", cwd=project).code == 0
    first = _report(project)
    assert first["eval"]["source"] == "split" and first["eval"]["stratified"] is True
    assert run_cli("check", cwd=project).code == 0
    assert _report(project)["metrics"] == first["metrics"]


def test_markdown_report_leads_with_the_verdict(example, run_cli):
    project = example("penguins")
    run_cli("check", cwd=project)
    markdown = (project / ".ci-ml/run/report.md").read_text()
    lines = [line for line in markdown.splitlines() if line.strip()]
    assert lines[0] == "## ci-ml · penguins"
    assert lines[1].startswith("**✅ promote")
    assert "| f1_macro ★" in markdown
    assert "log_loss (lower is better)" in markdown


def test_budget_rules_measure_size_and_latency(example, run_cli):
    project = example("penguins")
    config = project / "ci-ml.yaml"
    budgets = (
        "  - {budget: model_size_mb, max: 0.001}\n"
        "  - {budget: latency_ms_per_1k_rows, max: 10000, max_ratio: 3}\n"
    )
    config.write_text(config.read_text().replace("registry:", budgets + "registry:"))
    result = run_cli("check", cwd=project)
    assert result.code == 1
    report = _report(project)
    size = next(r for r in report["rules"] if r["metric"] == "model_size_mb")
    assert size["status"] == "fail" and size["value"] > 0.001
    latency = [r for r in report["rules"] if r["metric"] == "latency_ms_per_1k_rows"]
    assert [r["status"] for r in latency] == ["pass", "skipped"]
    assert 0 < latency[0]["value"] < 10000


def test_promotion_is_idempotent_for_the_same_run_and_the_same_data(example, run_cli):
    project = example("diabetes")
    assert run_cli("check", "--promote", cwd=project).code == 0
    again = run_cli("promote", cwd=project)
    assert again.code == 0 and "already holds this model" in again.out
    rerun = run_cli("check", "--promote", cwd=project)  # a weekly rerun on unchanged data
    assert rerun.code == 0
    listed = json.loads(run_cli("registry", "list", "--json", cwd=project).out)
    assert [v["version"] for v in listed["versions"]] == [1]
    assert listed["versions"][0]["metrics"]["r2"] > 0.3  # the registered card has them
    assert len(json.loads(run_cli("registry", "history", "--json", cwd=project).out)["audit"]) == 1


def test_confidence_slices_and_intervals_end_to_end(example, run_cli):
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    config = project / "ci-ml.fresh.yaml"
    text = config.read_text().replace(
        "  - {metric: f1_macro, min_delta: 0.0}       # no worse than the champion\n",
        "  - {metric: f1_macro, max_regression: 0.02, confidence: 0.9}\n"
        "  - {metric: neg_log_loss, min_delta: 0.0, confidence: 0.9}\n"
        "  - {metric: f1_macro, slice_by: island, min: 0.8}\n",
    )
    text += "evaluation:\n  slice_by: [island]\n  min_slice_rows: 10\n  resamples: 500\n"
    config.write_text(text)
    result = run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    report = _report(project)
    assert result.code in (0, 1), result.err
    f1 = report["metrics"]["f1_macro"]
    assert f1["interval"]["level"] == 0.95 and f1["n_rows"] == 86
    assert report["comparison"]["resamples"] == 500
    confident = [r for r in report["rules"] if "confidence" in r]
    assert [r["metric"] for r in confident] == ["f1_macro", "neg_log_loss"]
    assert report["multiple_testing"] == "holm"
    assert all(r["p_adjusted"] >= r["p_value"] for r in confident)
    sliced = next(r for r in report["rules"] if r.get("slice_by") == "island")
    assert sliced["status"] == "pass" and "judged slice(s)" in sliced["reason"]
    islands = {s["value"] for s in report["slices"] if s["column"] == "island"}
    assert islands == {"Biscoe", "Dream", "Torgersen"}
    assert report["mcnemar"]["n_rows"] == 86
    markdown = (project / ".ci-ml/run/report.md").read_text()
    assert "95% interval (of the change)" in markdown and "Slices, worst first" in markdown


def test_slice_rule_on_an_unsliced_column_is_a_config_error(example, run_cli):
    project = example("penguins")
    config = project / "ci-ml.yaml"
    rule = "  - {metric: f1_macro, slice_by: sex, min: 0.8}\nregistry:"
    config.write_text(config.read_text().replace("registry:", rule))
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "gate[3].slice_by: 'sex' must also be listed in evaluation.slice_by" in result.err


def test_custom_metric_from_the_project(example, run_cli):
    project = example("diabetes")
    (project / "my_metrics.py").write_text(
        "import numpy as np\n\n"
        "def within_25(y_true, y_pred):\n"
        "    return float(np.mean(np.abs(np.asarray(y_true) - y_pred) <= 25))\n"
    )
    config = project / "ci-ml.yaml"
    text = config.read_text().replace(
        "metrics: [neg_root_mean_squared_error, r2, neg_mean_absolute_error]",
        "metrics:\n  - neg_root_mean_squared_error\n  - r2\n"
        "  - {name: 'my_metrics:within_25', greater_is_better: true}",
    )
    rule = "  - {metric: 'my_metrics:within_25', min: 0.2}\nregistry:"
    config.write_text(text.replace("registry:", rule))
    result = run_cli("check", cwd=project)  # the config's folder is importable
    assert result.code == 0, result.err
    entry = _report(project)["metrics"]["my_metrics:within_25"]
    assert 0.2 <= entry["challenger"] <= 1


def test_empty_csv_fields_are_missing_values_in_text_columns_too(example, run_cli):
    from ci_ml.data import read_table

    project = example("penguins")
    frame = read_table(project / "data/train.csv")
    assert int(frame["sex"].isna().sum()) == 7
    assert "" not in set(frame["sex"].dropna())


def test_the_bootstrap_on_every_core_reports_what_the_one_beside_reports(
    example, run_cli, monkeypatch
):
    """Above `PARALLEL_MIN_ROWS` eval rows evaluate runs the bootstrap on every core
    after the short work instead of in one thread beside it: the same report."""
    from ci_ml.comparison import bootstrap
    from ci_ml.stages import evaluate

    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project).code == 0
    beside = _report(project)
    monkeypatch.setattr(bootstrap, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(evaluate, "cores", lambda: 2)
    assert bootstrap.bootstrap_threads(beside["eval"]["rows"], evaluate.cores()) == 2
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project).code == 0
    on_every_core = _report(project)
    for key in ("verdict", "metrics", "rules", "mcnemar"):
        assert on_every_core[key] == beside[key]


def test_the_drift_scan_and_the_training_profile_run_on_the_main_thread(
    example, run_cli, monkeypatch
):
    """Beside the champion's load and the model's save (Python holding the GIL) a
    thread for either scan waited for the GIL thousands of times and saved nothing."""
    import threading

    from ci_ml import validation
    from ci_ml.validation import drift

    ran: dict[str, str] = {}

    def recorded(name, inner):
        def call(*args, **kwargs):
            ran[name] = threading.current_thread().name
            return inner(*args, **kwargs)

        return call

    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    monkeypatch.setattr(drift, "scan_data", recorded("scan", drift.scan_data))
    monkeypatch.setattr(validation, "build_profile", recorded("profile", validation.build_profile))
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project).code == 0
    assert ran == {"scan": "MainThread", "profile": "MainThread"}
    validated = json.loads((project / ".ci-ml/run/validation.json").read_text())
    assert validated["drift"]["champion"] == 1
