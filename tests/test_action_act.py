"""The root action, run for real by `act` on this host, stage by stage on an example.

tests/act/workflows/root-action.yml is a user's workflow: validate, a user's own
step, train, evaluate, gate, report, promote, then `check` again on the same data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.act.harness import REPO, ActRun, make_repo, run_act

EXAMPLE = REPO / "examples" / "penguins"
WORKFLOW = REPO / "tests" / "act" / "workflows" / "root-action.yml"


@pytest.fixture(scope="module")
def stages(tmp_path_factory: pytest.TempPathFactory) -> tuple[ActRun, Path]:
    base = tmp_path_factory.mktemp("root-action")
    repo = make_repo(base / "demo", EXAMPLE, {"ci-ml.yml": WORKFLOW})
    results = base / "results"
    results.mkdir()
    run = run_act(repo, "push", "ci-ml.yml", {"ref": "refs/heads/main"}, {"RESULTS": str(results)})
    assert run.code == 0, run.log()[-6000:]
    return run, results


def test_every_stage_is_its_own_step(stages: tuple[ActRun, Path]) -> None:
    run, _ = stages
    steps = run.step_results("stages")
    for step in ("validate", "train", "evaluate", "gate", "report", "promote", "again"):
        assert steps.get(step) == "success", steps


def test_outputs_of_report_and_promote(stages: tuple[ActRun, Path]) -> None:
    run, _ = stages
    report = run.outputs("report")
    assert report["verdict"] == "promote"
    assert report["primary-metric"] == "f1_macro"
    assert report["champion-version"] == ""  # first run: no champion yet
    assert report["challenger-value"] == "1.0"
    assert report["report-path"].endswith(".ci-ml/run/report.json")
    assert report["exit-code"] == "0"
    promote = run.outputs("promote")
    assert promote["challenger-version"] == "1"
    validate = run.outputs("validate")
    assert len(validate["data-hash"]) == 64
    assert validate["champion-data-hash"] == ""


def test_a_second_check_on_the_same_data_compares_with_the_new_champion(
    stages: tuple[ActRun, Path],
) -> None:
    run, _ = stages
    again = run.outputs("again")
    assert again["champion-version"] == "1"
    assert again["delta"] == "0.0"
    # the same data and config as the champion's: a retrain workflow skips on this
    first = run.outputs("validate")["data-hash"]
    assert again["data-hash"] == again["champion-data-hash"] == first


def test_job_summary_holds_the_reports(stages: tuple[ActRun, Path]) -> None:
    run, _ = stages
    summaries = run.summaries("stages")
    # one from `report`, one from `check`: each step's summary is its own file
    assert len(summaries) == 2
    first, second = summaries
    assert "## ci-ml · penguins" in first and "no champion yet" in first
    assert "✅ promote" in second and "f1_macro ★" in second and "champion version 1" in second


def test_registry_holds_the_promoted_version(stages: tuple[ActRun, Path]) -> None:
    _, results = stages
    registry = json.loads((results / "registry.json").read_text(encoding="utf-8"))
    assert registry["champion"] == 1
    assert [v["version"] for v in registry["versions"]] == [1]


EXTRA = REPO / "tests" / "act" / "workflows" / "extra-packages.yml"


def test_a_lightgbm_model_trains_and_gates_through_the_action(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(".ci-ml"))
    config = (source / "ci-ml.yaml").read_text(encoding="utf-8")
    config = config.replace("sklearn.ensemble.RandomForestClassifier", "lightgbm.LGBMClassifier")
    config = config.replace(
        "{n_estimators: 200, random_state: 0}", "{n_estimators: 50, random_state: 0}"
    )
    (source / "ci-ml.lightgbm.yaml").write_text(config, encoding="utf-8")
    repo = make_repo(tmp_path / "demo", source, {"ci-ml.yml": EXTRA})
    results = tmp_path / "results"
    results.mkdir()
    run = run_act(repo, "push", "ci-ml.yml", {"ref": "refs/heads/main"}, {"RESULTS": str(results)})
    assert run.code == 0, run.log()[-6000:]
    assert run.outputs("check")["verdict"] == "promote"
    report = json.loads((results / "report.json").read_text(encoding="utf-8"))
    assert "LGBMClassifier" in json.dumps(report)
    log = run.log()
    # the second step (and a later run: act keeps the host's tool cache) reused the
    # environment once verified; an earlier act run may already have built it
    assert log.count("Install ci-ml from") <= 1
    assert "rebuilding ci-ml's environment" not in log
