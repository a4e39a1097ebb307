"""A first run still judges: the challenger is compared with a trivial baseline fitted on
the same training rows, init proposes floors from that baseline, and the registry's
tables show what a user checks (losses as losses, forced promotions, one hash length)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from ci_ml.report import renderer
from ci_ml.stages.validate import drift_summary
from tests.render import support

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _rare_positives(folder: Path, rows: int = 1200, share: float = 0.03) -> Path:
    """A 3%-positive target the features say little about."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "churned": (rng.random(rows) < share).astype(int),
        }
    )
    (folder / ".git").mkdir(parents=True)
    (folder / "data").mkdir()
    frame.to_csv(folder / "data/train.csv", index=False)
    return folder


@pytest.fixture
def churn(tmp_path: Path, run_cli: Callable[..., Any]) -> Path:
    """A project set up as a new user does: rare positives, then `ci-ml init`."""
    project = _rare_positives(tmp_path / "churn")
    assert run_cli("init", "data/train.csv", "-t", "churned", cwd=project).code == 0
    return project


def _without_floors(project: Path, **sections: Any) -> None:
    """init's ci-ml.yaml with its absolute floors dropped (the baseline rule alone
    judges) and `sections` replaced."""
    config = project / "ci-ml.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["gate"] = [r for r in raw["gate"] if "min" not in r]
    config.write_text(yaml.safe_dump(raw | sections))


def _report(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / ".ci-ml/run/report.json").read_text())
    return data


def test_init_proposes_a_floor_the_majority_class_does_not_reach(churn: Path) -> None:
    project = churn
    text = (project / "ci-ml.yaml").read_text()
    raw = yaml.safe_load(text)
    majority = pd.read_csv(project / "data/train.csv")["churned"].value_counts(normalize=True)
    floors = [r for r in raw["gate"] if r.get("metric") == "accuracy"]
    assert len(floors) == 1 and floors[0]["min"] > majority.iloc[0] + 0.005
    assert "predicting the majority class scores" in text  # where the number came from
    assert raw["evaluation"]["baseline"] == {"require": "better"}


def test_a_dummy_challenger_is_blocked_on_a_first_run_with_inits_config(
    churn: Path, run_cli: Callable[..., Any]
) -> None:
    project = churn
    _without_floors(project, model={"estimator": "sklearn.dummy.DummyClassifier", "params": {}})
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 1, result.err
    report = _report(project)
    assert report["verdict"] == "block"
    assert report["reason"].startswith("evaluation.baseline f1_macro min_delta: vs the baseline")
    assert "all 0 rule(s) passed" not in result.out
    rule = next(r for r in report["rules"] if r["rule"] == "evaluation.baseline")
    assert (rule["status"], rule["against"], rule["side"]) == ("fail", "baseline", "lower")
    assert "not shown at 95%" in rule["reason"]
    assert not (project / ".ci-ml/registry/champion.json").exists()
    markdown = (project / ".ci-ml/run/report.md").read_text()
    html = support.github_html(markdown)
    assert "Challenger vs the baseline DummyClassifier" in html
    assert "<th>baseline</th>" in html and "<th>champion</th>" not in html.split("Gate rules")[0]


def test_baseline_off_lets_the_first_run_through_and_says_nothing_was_judged(
    churn: Path, run_cli: Callable[..., Any]
) -> None:
    project = churn
    _without_floors(project, evaluation={"baseline": {"require": "off"}})
    result = run_cli("check", cwd=project)
    assert result.code == 0, result.err
    report = _report(project)
    assert report["reason"].startswith("no rule could be judged")
    assert report["compared_with"] == "baseline"  # still shown, not gated


def test_a_wrong_strategy_names_the_field(churn: Path, run_cli: Callable[..., Any]) -> None:
    project = churn
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text().replace("{require: better}", "{strategy: mean}"))
    result = run_cli("check", cwd=project)
    assert result.code == 2
    assert "evaluation.baseline.strategy: 'mean' is not a classification strategy" in result.err


def test_regression_first_run_is_judged_against_the_mean(
    example: Callable[[str], Path], run_cli: Callable[..., Any]
) -> None:
    project = example("diabetes")
    result = run_cli("check", cwd=project)
    assert result.code == 0, result.err
    report = _report(project)
    assert report["baseline"]["estimator"] == "sklearn.dummy.DummyRegressor(strategy='mean')"
    rule = next(r for r in report["rules"] if r["rule"] == "evaluation.baseline")
    # the name may add how the change was studentized (Hill's switch fires on 111 rows)
    assert rule["status"] == "pass" and rule["test"].startswith("paired bootstrap")
    text = renderer("text")(report)
    assert "Improvement over the baseline" in text and "over the champion" not in text


def test_no_percentage_of_a_baseline_value_that_is_noise(
    example: Callable[[str], Path], run_cli: Callable[..., Any]
) -> None:
    """A mean-predicting baseline's r2 is about 0 on the eval rows: a percentage of it
    (+70,000% on diabetes) is a percentage of noise, and it squashed the other bars."""
    project = example("diabetes")
    assert run_cli("check", cwd=project).code == 0
    report = _report(project)
    r2 = report["metrics"]["r2"]
    own = r2["champion_interval"]
    assert own["high"] - own["low"] > abs(r2["champion"])  # the case: the value is noise
    text = renderer("text")(report)
    table = next(line for line in text.splitlines() if line.startswith("r2 "))
    assert table.split()[6] == "–"  # the relative column (after "+0.50 ▲ better")
    plot = text[text.index("Improvement over the baseline") :]
    assert not any(line.startswith("r2 ") for line in plot.splitlines())
    assert "Not plotted: r2 (the baseline's value" in plot
    rmse = next(line for line in plot.splitlines() if line.startswith("root_mean_squared"))
    assert re.search(r"\+\d+% \[\+\d+%, \+\d+%\]$", rmse)  # the losses keep their bars
    assert "-100,000%" not in plot


@pytest.fixture
def promoted_twice(example: Callable[[str], Path], run_cli: Callable[..., Any]) -> Path:
    """penguins: a first champion, then a forced promotion of a blocked challenger."""
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    fresh = project / "ci-ml.fresh.yaml"
    raw = yaml.safe_load(fresh.read_text())
    raw["gate"] = [{"metric": "f1_macro", "min_delta": 0.5}]  # cannot pass
    fresh.write_text(yaml.safe_dump(raw))
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project).code == 1
    forced = run_cli(
        "promote", "-c", "ci-ml.fresh.yaml", "--force", "--reason", "hotfix", cwd=project
    )
    assert forced.code == 0, forced.err
    return project


def test_registry_history_marks_the_forced_promotion_with_its_verdict(
    promoted_twice: Path, run_cli: Callable[..., Any]
) -> None:
    shown = run_cli("registry", "history", cwd=promoted_twice).out
    lines = shown.splitlines()[1:]  # after the headline
    assert lines[0].split()[:5] == ["at", "event", "version", "previous", "verdict"]
    forced = next(line for line in lines if "(forced)" in line)
    assert "promote (forced)" in forced and "block, overridden" in forced and "hotfix" in forced
    first = next(line for line in lines[2:] if "(forced)" not in line)
    assert " promote " in first and "overridden" not in first
    audit = json.loads(run_cli("registry", "history", "--json", cwd=promoted_twice).out)["audit"]
    assert [e.get("forced") for e in audit] == [False, True]
    hashes = {len(h) for h in re.findall(r"\b[0-9a-f]{12,40}\b", shown)}
    assert hashes <= {12}


def test_registry_list_shows_a_loss_as_the_loss(
    promoted_twice: Path, run_cli: Callable[..., Any]
) -> None:
    config = promoted_twice / "ci-ml.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["metrics"] = ["neg_log_loss", *[m for m in raw["metrics"] if m != "neg_log_loss"]]
    config.write_text(yaml.safe_dump(raw))
    listed = run_cli("registry", "list", cwd=promoted_twice)
    assert listed.code == 0, listed.err
    shown = listed.out
    _, header, _, *rows = shown.splitlines()  # headline, header, rule, rows
    assert "log_loss" in header.split() and "neg_log_loss" not in header
    values = [float(row.split()[-3]) for row in rows]
    assert values and all(0 < v < 5 for v in values)  # positive, as a loss is


def test_the_report_shows_the_primary_metric_across_versions(
    promoted_twice: Path, run_cli: Callable[..., Any]
) -> None:
    run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=promoted_twice)
    report = _report(promoted_twice)
    assert [p["version"] for p in report["trend"]] == [1, 2]
    html = support.github_html((promoted_twice / ".ci-ml/run/report.md").read_text())
    assert "Primary metric across champion versions" in html
    assert "<td>v1</td>" in html and "<td>v2</td>" in html


def test_an_underpowered_rule_says_why_it_cannot_pass(
    example: Callable[[str], Path], run_cli: Callable[..., Any]
) -> None:
    project = example("diabetes")
    assert run_cli("check", "--promote", cwd=project).code == 0
    config = project / "ci-ml.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["model"]["params"] = {"alpha": 20.0}  # a different model, a little better
    raw["gate"] = [{"metric": "r2", "min_delta": 0.01, "confidence": 0.95}]
    config.write_text(yaml.safe_dump(raw))
    assert run_cli("check", cwd=project).code == 1
    report = _report(project)
    rule = report["rules"][0]
    assert rule["underpowered"] and rule["rows_needed"] > report["eval"]["rows"]
    line = f"gate[0] r2 min_delta cannot pass at {report['eval']['rows']} eval rows"
    needed = f"needs about {rule['rows_needed']:,} eval rows"
    for name in ("markdown", "text", "html"):
        shown = renderer(name)(report)
        assert line in shown and needed in shown, name
    html = support.github_html(renderer("markdown")(report))
    assert "smallest change it detects (80% power)" in html


def test_a_drift_summary_says_how_many_more_columns() -> None:
    drift = {
        "dataset_drift": True,
        "drifted_share": 1.0,
        "drifted_columns": [f"c{i}" for i in range(7)],
    }
    assert "(c0, c1, c2, c3, c4 and 2 more)" in drift_summary(drift)


def test_shipped_pr_workflows_upload_report_html() -> None:
    repo = EXAMPLES.parent
    for path in ("workflows", ".github/workflows", "ci_ml/templates/workflows"):
        text = (repo / path / "pr-check.yml").read_text()
        assert "${{ runner.temp }}/ci-ml-run/report.html" in text, path
