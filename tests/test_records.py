"""The run folder's typed records, the environment snapshot and the posting plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_ml.environment import Environment, GitHubSettings
from ci_ml.errors import EnvironmentProblem
from ci_ml.github.plan import PublishOptions, plan
from ci_ml.records import DecisionRecord, EvaluationRecord, Report, ValidationRecord
from ci_ml.rundir import RunDir

EVALUATION = EvaluationRecord(
    eval={"rows": 40, "source": "file"},
    challenger={"sha256": "ab" * 32, "version": None},
    champion={"version": 3, "sha256": "cd" * 32},
    primary_metric="accuracy",
    metrics={"accuracy": {"challenger": 0.9, "champion": 0.8, "delta": 0.1}},
    comparison={"rows": 38},
)


@pytest.mark.parametrize(
    "record",
    [
        ValidationRecord(passed=False, failures=[{"severity": "error", "column": "a"}]),
        EVALUATION,
        DecisionRecord(verdict="block", reason="gate[0] failed", has_champion=True),
    ],
)
def test_a_record_reads_back_as_written(tmp_path, record):
    run = RunDir(tmp_path / "run")
    path = run.save(record)
    assert type(record).from_json(json.loads(path.read_text())) == record
    assert run.load(type(record)) == record
    assert path.stat().st_mode & 0o777 == 0o644


def test_records_answer_what_the_next_stage_asks():
    assert EVALUATION.rows == 38 and EVALUATION.champion_version == 3
    assert EVALUATION.summary == "challenger vs champion v3 on 40 rows"
    failing = ValidationRecord(passed=False, failures=[{"severity": "warn"}, {"severity": "error"}])
    assert failing.errors == [{"severity": "error"}]
    assert DecisionRecord("promote", "all 2 rule(s) passed", False).promotes


def test_a_report_without_optional_keys_still_loads_and_promoted_appears_once_set():
    required = {
        "schema_version": 1,
        "report_id": "m",
        "name": "m",
        "verdict": "promote",
        "reason": "ok",
        "champion": None,
        "challenger": None,
        "primary_metric": "accuracy",
        "metrics": {},
        "rules": [],
        "validation": {"passed": True},
        "warnings": [],
    }
    report = Report.from_json(required)
    assert report.multiple_testing == "none" and "promoted" not in report.to_json()
    report.promoted = 2
    assert report.to_json()["promoted"] == 2


def test_a_record_of_the_wrong_shape_is_an_environment_error_naming_the_file(tmp_path):
    run = RunDir(tmp_path)
    (tmp_path / "decision.json").write_text('{"verdict": "promote"}')
    with pytest.raises(EnvironmentProblem, match=r"decision.json: not a DecisionRecord"):
        run.load(DecisionRecord)


def test_the_environment_is_a_snapshot_read_once():
    env = Environment(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTOR": "octocat",
            "GITHUB_SHA": "c0ffee",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "o/r",
            "GITHUB_RUN_ID": "7",
            "RUNNER_DEBUG": "1",
        }
    )
    assert env.in_actions and env.debug and env.actor == "octocat" and env.commit == "c0ffee"
    assert env.run_link == "https://github.com/o/r/actions/runs/7"
    assert env.github.repository == "o/r" and env.github.run_url == env.run_link
    assert Environment({}).run_link is None and not Environment({}).in_actions


def test_the_environment_names_the_mlflow_server_spark_and_the_training_command_s_variables():
    env = Environment(
        {
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
            "MLFLOW_TRACKING_TOKEN": "tok",
            "MLFLOW_TRACKING_PASSWORD": "pw",
            "SPARK_REMOTE": "sc://spark:15002",
            "PATH": "/bin",
        }
    )
    assert env.mlflow.tracking_uri == "http://mlflow:5000" and env.mlflow.secrets == ("tok", "pw")
    assert "tok" not in repr(env.mlflow)
    assert env.spark_remote == "sc://spark:15002"
    assert env.child_env({"CI_ML_SEED": "0"}) == {**env.variables, "CI_ML_SEED": "0"}
    empty = Environment({})
    assert (empty.mlflow.tracking_uri, empty.mlflow.secrets, empty.spark_remote) == (None, (), None)


def _report() -> dict:
    return {
        "report_id": "m",
        "verdict": "block",
        "reason": "gate[0] failed",
        "primary_metric": "accuracy",
        "metrics": {"accuracy": {"shown": {"challenger": 0.9, "champion": 0.8, "delta": 0.1}}},
        "rules": [{"status": "fail", "rule": "gate[0]", "kind": "min", "reason": "too low"}],
        "validation": {"failures": []},
        "warnings": ["eval rows overlap"],
    }


def test_the_posting_plan_is_decided_once_from_the_environment(tmp_path):
    path = tmp_path / "report.json"
    local = plan(_report(), path, GitHubSettings(), PublishOptions(), tmp_path / "comment")
    assert not local.post and local.annotations == () and local.output_path is None
    assert local.reason == "not running in GitHub Actions"
    assert local.outputs["verdict"] == "block" and local.outputs["challenger-value"] == "0.9"

    settings = GitHubSettings(
        in_actions=True,
        token="t",
        repository="o/r",
        event_name="pull_request",
        pr_number=5,
        output_path=tmp_path / "out",
    )
    on_pr = plan(_report(), path, settings, PublishOptions(), tmp_path / "comment", debug=True)
    assert on_pr.post and on_pr.reason == "pull request event in GitHub Actions"
    assert [line.split(" ")[0].split("::")[1] for line in on_pr.annotations] == [
        "error",
        "warning",
        "debug",
    ]
    assert on_pr.output_path == Path(tmp_path / "out")
    off = plan(_report(), path, settings, PublishOptions(github=False), tmp_path / "comment")
    assert off.reason == "posting turned off"


FULL_DISK_MID_WRITE = """
import resource, signal, sys
from pathlib import Path
import numpy as np, pandas as pd
from ci_ml.errors import EnvironmentProblem
from ci_ml.rundir import RunDir

run = RunDir(Path(sys.argv[1]))
run.save_predictions(pd.DataFrame({"challenger": [0, 1]}))
run.save_resampled({"accuracy": np.arange(3.0)})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
rows = np.random.default_rng(0).random(100_000)
for save in (lambda: run.save_predictions(pd.DataFrame({"challenger": rows})),
             lambda: run.save_resampled({"accuracy": rows})):
    try:
        save()
    except EnvironmentProblem as problem:
        print(problem)
"""


def test_a_write_that_fails_midway_leaves_the_earlier_predictions_and_resamples(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    import numpy as np

    run = RunDir(tmp_path / "run")
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_MID_WRITE, str(run.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    failed = done.stdout.splitlines()
    assert [line.split(":")[0] for line in failed] == [
        str(run.path / "predictions.parquet"),
        str(run.path / "resampled.npz"),
    ]
    assert all("File too large" in line for line in failed), failed
    assert run.load_predictions()["challenger"].tolist() == [0, 1]  # intact, not half-written
    assert np.array_equal(run.load_resampled()["accuracy"], np.arange(3.0))
    assert sorted(p.name for p in run.path.iterdir()) == [
        "predictions.parquet",
        "resampled.json",
        "resampled.npz",
    ]
