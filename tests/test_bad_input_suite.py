"""The bad-input suite: what a user (or an attacker) feeds ci-ml, as they meet it.

Each case is a small project on disk (real CSV files, a real ci-ml.yaml), one mistake
made in it, and one `ci-ml` command run the way a shell runs it. What a user would
check is asserted: the exit code (DESIGN.md: 1 a verdict, 2 a config or usage mistake,
3 the environment), a message naming the file, field or column, no traceback, and for a
verdict the report (report.json and report.md). The conftest prints how many cases of
each group ran ("bad-input suite: N cases tried: config X, data Y, ...").
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from urllib3.util.retry import Retry

from tests.conftest import Result
from tests.fakegithub import FakeGitHub
from tests.github_support import REPO, TOKEN, open_pr, pull_request_env, set_env

GROUPS = ("config", "data", "environment", "registry", "github", "integrity")
VERDICT, USAGE, ENVIRONMENT = 1, 2, 3

CLASSIFICATION = """\
version: 1
name: kinds
task: classification
data: {train: data/train.csv, eval: data/eval.csv, target: kind}
model:
  estimator: sklearn.linear_model.LogisticRegression
  params: {C: 1.0}
metrics: [accuracy, f1_macro]
gate:
  - {metric: accuracy, min: 0.3}
registry: {backend: local, path: .ci-ml/registry}
"""
REGRESSION = (
    CLASSIFICATION.replace("task: classification", "task: regression")
    .replace("sklearn.linear_model.LogisticRegression", "sklearn.linear_model.Ridge")
    .replace("{C: 1.0}", "{alpha: 1.0}")
    .replace("[accuracy, f1_macro]", "[r2, neg_mean_absolute_error]")
    .replace("{metric: accuracy, min: 0.3}", "{metric: r2, min: -10}")
    .replace("target: kind", "target: y")
)
BINARY = CLASSIFICATION.replace("target: kind", 'target: churn, pos_label: "Yes"').replace(
    "[accuracy, f1_macro]", "[accuracy, f1]"
)


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    kind = np.select([x1 < -0.4, x1 < 0.4], ["a", "b"], "c")
    return pd.DataFrame(
        {
            "x1": x1.round(4),
            "x2": x2.round(4),
            "color": rng.choice(["red", "blue"], n),
            "kind": kind,
            "y": (3 * x1 + x2 + rng.normal(scale=0.3, size=n)).round(4),
            "churn": np.where(x1 + 0.3 * x2 > 0, "Yes", "No"),
        }
    )


def _project(root: Path, config: str, target: str) -> Path:
    (root / "data").mkdir(parents=True)
    others = {"kind", "y", "churn"} - {target}
    for name, n, seed in (("train", 150, 1), ("eval", 90, 2)):
        _rows(n, seed).drop(columns=sorted(others)).to_csv(root / f"data/{name}.csv", index=False)
    (root / "ci-ml.yaml").write_text(config)
    return root


# -- edits a case makes to its project -----------------------------------------------


Edit = Callable[[Path], None]


def replace(old: str, new: str, name: str = "ci-ml.yaml") -> Edit:
    def edit(project: Path) -> None:
        text = (project / name).read_text()
        assert old in text, f"{old!r} not in {name}"
        (project / name).write_text(text.replace(old, new, 1))

    return edit


def append(text: str, name: str = "ci-ml.yaml") -> Edit:
    def edit(project: Path) -> None:
        with (project / name).open("a") as handle:
            handle.write(text)

    return edit


def write(name: str, content: str | bytes) -> Edit:
    def edit(project: Path) -> None:
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return edit


def remove(name: str) -> Edit:
    return lambda project: (project / name).unlink()


def cells(name: str, column: str, value: object, rows: slice = slice(0, 4)) -> Edit:
    """Set `column` in some rows of data/<name>.csv (a whole new column if absent)."""

    def edit(project: Path) -> None:
        path = project / f"data/{name}.csv"
        frame = pd.read_csv(path)
        if column in frame.columns:
            frame[column] = frame[column].astype(object)
        frame.loc[frame.index[rows], column] = value
        frame.to_csv(path, index=False)

    return edit


def drop_column(name: str, column: str) -> Edit:
    def edit(project: Path) -> None:
        path = project / f"data/{name}.csv"
        pd.read_csv(path).drop(columns=[column]).to_csv(path, index=False)

    return edit


def both(*edits: Edit) -> Edit:
    def edit(project: Path) -> None:
        for one in edits:
            one(project)

    return edit


@dataclass(frozen=True)
class Case:
    group: str
    name: str
    edit: Edit
    code: int
    says: tuple[str, ...]
    project: str = "classification"
    command: tuple[str, ...] = ("check",)
    champion: bool = False  # run `check --promote` first, so a champion exists

    @property
    def verdict(self) -> bool:
        return self.code == VERDICT


def case(group: str, name: str, edit: Edit, code: int, *says: str, **kw: object) -> object:
    assert group in GROUPS
    return pytest.param(Case(group, name, edit, code, says, **kw), id=f"{group}-{name}")  # type: ignore[arg-type]


SCHEMA = """\
version: 1
columns:
  x1: {type: float, min: -10, max: 10}
  kind: {type: string, nullable: false}
"""

CONFIG_CASES = [
    case(
        "config",
        "model-timeout-not-a-duration",
        replace("  params: {C: 1.0}", "  params: {C: 1.0}\n  timeout: 10 minutes"),
        USAGE,
        "model.timeout",
        "expected a duration such as '90s'",
    ),
    case(
        "config",
        "model-secret-env-without-command",
        replace("  params: {C: 1.0}", "  params: {C: 1.0}\n  secret_env: [WAREHOUSE_DSN]"),
        USAGE,
        "model.secret_env",
        "masks model.command's output only",
    ),
    case(
        "config",
        "model-secret-env-not-a-name",
        replace("  params: {C: 1.0}", "  params: {C: 1.0}\n  secret_env: [warehouse dsn]"),
        USAGE,
        "model.secret_env",
    ),
    case(
        "config",
        "yaml-syntax",
        replace("task: classification", "task: [classification"),
        USAGE,
        "ci-ml.yaml: YAML syntax error (line 4",
    ),
    case("config", "empty-file", write("ci-ml.yaml", ""), USAGE, "ci-ml.yaml", "empty file"),
    case(
        "config",
        "top-level-list",
        write("ci-ml.yaml", "- a\n- b\n"),
        USAGE,
        "expected a mapping of config keys",
    ),
    case(
        "config",
        "unknown-top-key",
        append("metricz: [accuracy]\n"),
        USAGE,
        "unknown key 'metricz' (did you mean 'metrics'?)",
    ),
    case(
        "config",
        "unknown-data-key",
        replace("target: kind}", "target: kind, trian: x.csv}"),
        USAGE,
        "data: unknown key 'trian'",
    ),
    case(
        "config",
        "missing-train",
        replace("train: data/train.csv, ", ""),
        USAGE,
        "data: missing required key 'train'",
    ),
    case(
        "config",
        "missing-target",
        replace(", target: kind", ""),
        USAGE,
        "data: missing required key 'target'",
    ),
    case(
        "config",
        "task-typo",
        replace("task: classification", "task: clasification"),
        USAGE,
        "task: expected one of",
    ),
    case("config", "version-2", replace("version: 1", "version: 2"), USAGE, "version"),
    case(
        "config",
        "metrics-empty",
        replace("metrics: [accuracy, f1_macro]", "metrics: []"),
        USAGE,
        "metrics: expected at least 1 item(s)",
    ),
    case(
        "config",
        "gate-empty",
        replace("gate:\n  - {metric: accuracy, min: 0.3}", "gate: []"),
        USAGE,
        "gate: expected at least 1 item(s), got 0",
    ),
    case(
        "config",
        "gate-min-text",
        replace("min: 0.3", "min: high"),
        USAGE,
        "gate[0].min: expected a number, got 'high'",
        "line 10",
    ),
    case(
        "config",
        "rule-without-bound",
        replace("{metric: accuracy, min: 0.3}", "{metric: accuracy}"),
        USAGE,
        "gate[0]",
        "a rule needs a bound",
    ),
    case(
        "config",
        "rule-metric-not-computed",
        replace("{metric: accuracy, min", "{metric: balanced_accuracy, min"),
        USAGE,
        "gate[0].metric",
        "'balanced_accuracy' is not among metrics",
    ),
    case(
        "config",
        "unknown-scorer",
        replace("[accuracy, f1_macro]", "[accuracy, f1_macr]"),
        USAGE,
        "metrics[1]",
        "unknown metric 'f1_macr'",
        "f1_macro",
    ),
    case(
        "config",
        "duplicate-gate-key",
        append("gate:\n  - {metric: accuracy, min: 0.1}\n"),
        USAGE,
        "duplicate key 'gate' (first written on line 9)",
        "line 12",
    ),
    case(
        "config",
        "duplicate-nested-key",
        replace("params: {C: 1.0}", "params: {C: 1.0, C: 2.0}"),
        USAGE,
        "duplicate key 'C'",
        "line 7",
    ),
    case(
        "config",
        "duplicate-key-in-schema-file",
        both(
            write("schema.yaml", SCHEMA + "  x1: {type: string}\n"),
            append("validation: {schema_file: schema.yaml}\n"),
        ),
        USAGE,
        "schema.yaml",
        "duplicate key 'x1'",
    ),
    case(
        "config",
        "target-in-features",
        replace("target: kind}", "target: kind, features: [x1, kind]}"),
        USAGE,
        "data.features: lists the target 'kind'",
        "label leak",
    ),
    case(
        "config",
        "param-out-of-range",
        replace("{C: 1.0}", "{C: -1.0}"),
        USAGE,
        "model.params.C",
        "LogisticRegression",
    ),
    case(
        "config",
        "n-estimators-negative",
        replace(
            "sklearn.linear_model.LogisticRegression\n  params: {C: 1.0}",
            "sklearn.ensemble.RandomForestClassifier\n  params: {n_estimators: -5}",
        ),
        USAGE,
        "model.params.n_estimators",
        "range [1, inf)",
    ),
    case(
        "config",
        "param-wrong-type",
        replace("{C: 1.0}", "{C: 1.0, penalty: lasso}"),
        USAGE,
        "model.params.penalty",
        "'lasso'",
    ),
    case(
        "config",
        "unknown-param",
        replace("{C: 1.0}", "{C: 1.0, n_estimators: 10}"),
        USAGE,
        "model.params.n_estimators: LogisticRegression has no parameter",
    ),
    case(
        "config",
        "param-typo-suggested",
        replace("{C: 1.0}", "{max_iters: 10}"),
        USAGE,
        "model.params.max_iters",
        "did you mean 'max_iter'?",
    ),
    case(
        "config",
        "estimator-module-missing",
        replace("sklearn.linear_model.LogisticRegression", "nosuchpkg.Model"),
        USAGE,
        "model.estimator: cannot import 'nosuchpkg.Model'",
    ),
    case(
        "config",
        "estimator-typo",
        replace("LogisticRegression", "LogisticRegresion"),
        USAGE,
        "model.estimator: 'sklearn.linear_model' has no 'LogisticRegresion'",
        "LogisticRegression",
    ),
    case(
        "config",
        "estimator-not-a-class",
        replace("sklearn.linear_model.LogisticRegression", "sklearn.metrics.accuracy_score"),
        USAGE,
        "model.estimator: 'sklearn.metrics.accuracy_score' is not a scikit-learn estimator class",
    ),
    case(
        "config",
        "estimator-and-command",
        replace("  params: {C: 1.0}", "  params: {C: 1.0}\n  command: python train.py"),
        USAGE,
        "model: expected exactly one of 'estimator' or 'command'",
    ),
    case(
        "config",
        "r2-on-classification",
        replace("[accuracy, f1_macro]", "[accuracy, r2]"),
        USAGE,
        "metrics[1]: 'r2' is a regression metric, but task is 'classification'",
    ),
    case(
        "config",
        "accuracy-on-regression",
        replace("[r2, neg_mean_absolute_error]", "[r2, accuracy]"),
        USAGE,
        "metrics[1]: 'accuracy' is a classification metric, but task is 'regression'",
        project="regression",
    ),
    case(
        "config",
        "roc-auc-on-regression",
        replace("[r2, neg_mean_absolute_error]", "[r2, roc_auc]"),
        USAGE,
        "metrics[1]: 'roc_auc' is a classification metric",
        project="regression",
    ),
    case(
        "config",
        "binary-f1-on-multiclass",
        replace("[accuracy, f1_macro]", "[accuracy, f1]"),
        USAGE,
        "metrics[1]: 'f1' scores a binary target",
        "3 classes",
        "f1_macro",
    ),
    case(
        "config",
        "probability-metric-without-probabilities",
        both(
            replace(
                "sklearn.linear_model.LogisticRegression", "sklearn.linear_model.RidgeClassifier"
            ),
            replace("{C: 1.0}", "{alpha: 1.0}"),
            replace("[accuracy, f1_macro]", "[accuracy, neg_log_loss]"),
        ),
        USAGE,
        "metrics[1]: 'neg_log_loss' needs predict_proba",
    ),
    *[
        case(
            "config",
            f"yes-no-{m}-without-pos-label",
            both(replace(', pos_label: "Yes"', ""), replace("[accuracy, f1]", f"[accuracy, {m}]")),
            USAGE,
            f"data.pos_label: {m} score one class of 'churn'",
            "['No', 'Yes']",
            'pos_label: "Yes"',
            project="binary",
        )
        for m in ("f1", "precision", "recall", "average_precision", "neg_brier_score", "jaccard")
    ],
    case(
        "config",
        "pos-label-unquoted-yes",
        replace('pos_label: "Yes"', "pos_label: Yes"),
        USAGE,
        "data.pos_label: True is not a label of 'churn'",
        "quote the label",
        project="binary",
    ),
    case(
        "config",
        "pos-label-not-a-label",
        replace('pos_label: "Yes"', "pos_label: Maybe"),
        USAGE,
        "data.pos_label: 'Maybe' is not a label of 'churn'; found ['No', 'Yes']",
        project="binary",
    ),
    case(
        "config",
        "pos-label-wrong-type",
        replace('pos_label: "Yes"', "pos_label: [Yes]"),
        USAGE,
        "data.pos_label: expected a string or an integer or true or false",
        project="binary",
    ),
    case(
        "config",
        "report-id-default-with-space",
        lambda p: None,
        USAGE,
        "report.id",
        "'my models/ci-ml.yaml'",
        "report: {id: ...}",
        "my-models/ci-ml.yaml",
        command=("check", "--config", "my models/ci-ml.yaml"),
    ),
    case(
        "config",
        "report-id-written-invalid",
        append("report: {id: 'my model'}\n"),
        USAGE,
        "report.id: expected text matching",
    ),
    case(
        "config",
        "contradictory-min-max",
        replace(
            "{metric: accuracy, min: 0.3}",
            "{metric: accuracy, min: 0.9}\n  - {metric: accuracy, max: 0.5}",
        ),
        USAGE,
        "gate[0].min and gate[1].max contradict each other",
    ),
    case(
        "config",
        "min-delta-above-max-delta",
        replace(
            "{metric: accuracy, min: 0.3}", "{metric: accuracy, min_delta: 0.2, max_delta: 0.1}"
        ),
        USAGE,
        "gate[0].min_delta and gate[0].max_delta contradict",
    ),
    case(
        "config",
        "eval-fraction-over-one",
        replace("eval: data/eval.csv, ", "eval_fraction: 1.5, "),
        USAGE,
        "data.eval_fraction: expected a number < 1, got 1.5",
    ),
    case(
        "config",
        "confidence-out-of-range",
        append("evaluation: {confidence: 2}\n"),
        USAGE,
        "evaluation.confidence",
    ),
    case(
        "config",
        "slice-by-missing-column",
        append("evaluation: {slice_by: [region]}\n"),
        USAGE,
        "evaluation.slice_by: column(s) 'region' not found",
        "'x1'",
    ),
    case(
        "config",
        "gate-slice-not-sliced",
        replace("{metric: accuracy, min: 0.3}", "{metric: accuracy, min: 0.3, slice_by: color}"),
        USAGE,
        "gate[0].slice_by: 'color' must also be listed in evaluation.slice_by",
    ),
    case(
        "config",
        "confidence-on-slice-rule",
        both(
            replace(
                "{metric: accuracy, min: 0.3}",
                "{metric: accuracy, min: 0.3, slice_by: color, confidence: 0.9}",
            ),
            append("evaluation: {slice_by: [color]}\n"),
        ),
        USAGE,
        "gate[0]: confidence is not supported on slice rules",
    ),
    case(
        "config",
        "registry-backend-unknown",
        replace("backend: local", "backend: s3"),
        USAGE,
        "registry.backend: expected one of",
    ),
    case(
        "config",
        "tracking-uri-with-credentials",
        replace(
            "{backend: local, path: .ci-ml/registry}",
            "{backend: mlflow, tracking_uri: 'http://me:secret@127.0.0.1:1'}",
        ),
        USAGE,
        "registry.tracking_uri: credentials do not belong in ci-ml.yaml",
    ),
    case(
        "config",
        "drop-not-a-list",
        replace("target: kind}", "target: kind, drop: color}"),
        USAGE,
        "data.drop: expected a list, got 'color'",
    ),
    case(
        "config",
        "features-empty-list",
        replace("target: kind}", "target: kind, features: []}"),
        USAGE,
        "data.features: expected at least 1 item(s)",
    ),
    case(
        "config",
        "schema-rule-unknown",
        both(
            write("schema.yaml", "version: 1\ncolumns:\n  x1: {type: float, minimun: 0}\n"),
            append("validation: {schema_file: schema.yaml}\n"),
        ),
        USAGE,
        "schema.yaml",
        "minimun",
    ),
    case(
        "config",
        "schema-type-unknown",
        both(
            write("schema.yaml", "version: 1\ncolumns:\n  x1: {type: numbr}\n"),
            append("validation: {schema_file: schema.yaml}\n"),
        ),
        USAGE,
        "schema.yaml",
        "numbr",
    ),
    case(
        "config",
        "no-config-file",
        remove("ci-ml.yaml"),
        USAGE,
        "ci-ml.yaml: config file not found",
        "ci-ml init",
    ),
    case(
        "config",
        "config-flag-to-missing-file",
        lambda p: None,
        USAGE,
        "other.yaml: config file not found",
        command=("check", "--config", "other.yaml"),
    ),
    case(
        "config",
        "unknown-command-option",
        lambda p: None,
        USAGE,
        "No such option",
        command=("check", "--promot"),
    ),
    case(
        "config",
        "rollback-to-text",
        lambda p: None,
        USAGE,
        "--to",
        command=("rollback", "--to", "latest"),
    ),
]

DATA_CASES = [
    case(
        "data",
        "target-column-missing-in-train",
        drop_column("train", "kind"),
        VERDICT,
        "train.csv",
        "'kind'",
    ),
    case(
        "data",
        "target-column-missing-in-eval",
        drop_column("eval", "kind"),
        VERDICT,
        "eval.csv",
        "'kind'",
    ),
    case(
        "data",
        "feature-named-but-missing",
        replace("target: kind}", "target: kind, features: [x1, x3]}"),
        VERDICT,
        "'x3' named by data.features not found",
    ),
    case("data", "train-file-empty", write("data/train.csv", ""), VERDICT, "train.csv"),
    case(
        "data",
        "train-header-only",
        write("data/train.csv", "x1,x2,color,kind\n"),
        VERDICT,
        "train.csv",
    ),
    case(
        "data",
        "eval-header-only",
        write("data/eval.csv", "x1,x2,color,kind\n"),
        VERDICT,
        "eval.csv",
    ),
    case("data", "ragged-csv", append("1,2,red,a,9,9,9\n", "data/train.csv"), VERDICT, "train.csv"),
    case(
        "data",
        "binary-bytes-as-csv",
        write("data/train.csv", bytes(range(256)) * 8),
        VERDICT,
        "train.csv",
    ),
    case(
        "data",
        "corrupt-parquet",
        both(
            write("data/train.parquet", b"PAR1 not really"),
            replace("data/train.csv", "data/train.parquet"),
        ),
        VERDICT,
        "train.parquet",
    ),
    case(
        "data",
        "target-empty-cells",
        cells("train", "kind", None),
        VERDICT,
        "target 'kind' is empty in 4 row(s)",
    ),
    case(
        "data",
        "one-class-only",
        cells("train", "kind", "a", slice(None)),
        VERDICT,
        "target 'kind' has only one class",
    ),
    case(
        "data",
        "eval-class-never-trained",
        cells("eval", "kind", "d"),
        VERDICT,
        "eval.csv: target 'kind' holds class(es) the training rows never have",
        "'d'",
    ),
    case(
        "data",
        "eval-class-never-trained-binary",
        cells("eval", "churn", "Maybe"),
        VERDICT,
        "target 'churn' holds class(es)",
        "'Maybe'",
        project="binary",
    ),
    case(
        "data",
        "regression-target-text-in-eval",
        cells("eval", "y", "high"),
        VERDICT,
        "eval.csv: column 'y' (the regression target in training) fails type",
        "'high'",
        project="regression",
    ),
    case(
        "data",
        "regression-target-text-in-train",
        cells("train", "y", "high"),
        VERDICT,
        "train.csv: column 'y' (the regression target in training) fails type",
        project="regression",
    ),
    case(
        "data",
        "regression-target-inf-in-train",
        cells("train", "y", float("inf")),
        VERDICT,
        "train.csv: column 'y'",
        "'inf'",
        project="regression",
    ),
    case(
        "data",
        "regression-target-inf-in-eval",
        cells("eval", "y", float("-inf")),
        VERDICT,
        "eval.csv: column 'y'",
        "'-inf'",
        project="regression",
    ),
    case(
        "data",
        "regression-target-empty",
        cells("train", "y", None),
        VERDICT,
        "target 'y' is empty in 4 row(s)",
        project="regression",
    ),
    case(
        "data",
        "number-column-text-in-eval",
        cells("eval", "x1", "n/a!"),
        VERDICT,
        "eval.csv: column 'x1' (a number column in training) fails type",
        "'n/a!'",
    ),
    case(
        "data",
        "number-column-inf-in-eval",
        cells("eval", "x2", float("inf")),
        VERDICT,
        "eval.csv: column 'x2'",
        "'inf'",
    ),
    case(
        "data",
        "number-column-inf-in-train",
        cells("train", "x2", float("inf")),
        VERDICT,
        "train.csv: column 'x2'",
        "'inf'",
    ),
    case(
        "data",
        "number-column-type-changed-in-eval",
        cells("eval", "x1", "big", slice(None)),
        VERDICT,
        "eval.csv: column 'x1'",
        "90 value(s)",
    ),
    case(
        "data",
        "regression-feature-text",
        cells("eval", "x2", "?"),
        VERDICT,
        "eval.csv: column 'x2'",
        project="regression",
    ),
    case(
        "data",
        "schema-range-fails",
        both(
            write("schema.yaml", SCHEMA),
            append("validation: {schema_file: schema.yaml}\n"),
            cells("eval", "x1", 99.0),
        ),
        VERDICT,
        "column 'x1' fails",
        "99",
    ),
    case(
        "data",
        "schema-not-null-fails",
        both(
            write(
                "schema.yaml",
                SCHEMA.replace(
                    "kind: {type: string, nullable: false}",
                    "color: {type: string, nullable: false}",
                ),
            ),
            append("validation: {schema_file: schema.yaml}\n"),
            cells("train", "color", None),
        ),
        VERDICT,
        "column 'color' fails",
    ),
    case(
        "data",
        "only-the-target-column",
        both(drop_column("train", "x1"), drop_column("train", "x2"), drop_column("train", "color")),
        VERDICT,
        "no feature columns left besides the target 'kind'",
    ),
    case(
        "data",
        "champion-then-text-in-number-column",
        cells("train", "x1", "oops"),
        VERDICT,
        "train.csv: column 'x1' fails type",
        "'oops'",
        champion=True,
    ),
    case(
        "data",
        "champion-then-inf-in-number-column",
        cells("train", "x2", float("inf")),
        VERDICT,
        "train.csv: column 'x2'",
        "'inf'",
        champion=True,
    ),
    case(
        "data",
        "champion-then-column-type-changed",
        cells("eval", "x1", "big", slice(None)),
        VERDICT,
        "eval.csv: column 'x1'",
        champion=True,
    ),
    case(
        "data",
        "champion-then-unseen-class",
        cells("eval", "kind", "z"),
        VERDICT,
        "'z'",
        champion=True,
    ),
]

ENVIRONMENT_CASES = [
    case(
        "environment",
        "train-file-not-found",
        remove("data/train.csv"),
        ENVIRONMENT,
        "data/train.csv: data file not found",
    ),
    case(
        "environment",
        "schema-file-not-found",
        append("validation: {schema_file: nosuch.yaml}\n"),
        ENVIRONMENT,
        "nosuch.yaml: schema file not found",
    ),
    case(
        "environment",
        "registry-path-is-a-file",
        write(".ci-ml/registry", "not a folder"),
        ENVIRONMENT,
        ".ci-ml/registry",
        command=("check", "--promote"),
    ),
    case(
        "environment",
        "run-folder-is-a-file",
        write(".ci-ml/run", "not a folder"),
        ENVIRONMENT,
        ".ci-ml/run: expected a run folder, found a file",
    ),
    case(
        "environment",
        "run-dir-parent-is-a-file",
        write("blocker", "x"),
        ENVIRONMENT,
        "blocker: expected a run folder, found a file",
        command=("check", "--run-dir", "blocker/run"),
    ),
    case(
        "environment",
        "config-is-a-folder",
        both(remove("ci-ml.yaml"), lambda p: (p / "ci-ml.yaml").mkdir()),
        USAGE,
        "'ci-ml.yaml' is a directory",
    ),
    case(
        "environment",
        "gate-before-evaluate",
        lambda p: None,
        ENVIRONMENT,
        "metrics.json: not found",
        "ci-ml evaluate",
        command=("gate",),
    ),
    case(
        "environment",
        "report-before-anything",
        lambda p: None,
        ENVIRONMENT,
        "not found",
        command=("report",),
    ),
    case(
        "environment",
        "evaluate-without-challenger",
        lambda p: None,
        ENVIRONMENT,
        "challenger",
        command=("evaluate",),
    ),
    case(
        "environment",
        "corrupt-metrics-json",
        write(".ci-ml/run/metrics.json", "{not json"),
        ENVIRONMENT,
        "metrics.json: unreadable or corrupt JSON",
        command=("gate",),
    ),
    case(
        "environment",
        "foreign-metrics-json",
        write(".ci-ml/run/metrics.json", "[1, 2]"),
        ENVIRONMENT,
        "metrics.json",
        command=("gate",),
    ),
    case(
        "environment",
        "mlflow-unreachable",
        replace(
            "{backend: local, path: .ci-ml/registry}",
            "{backend: mlflow, tracking_uri: 'http://127.0.0.1:9'}",
        ),
        ENVIRONMENT,
        "127.0.0.1:9",
    ),
    case(
        "environment",
        "github-releases-without-repository",
        replace("{backend: local, path: .ci-ml/registry}", "{backend: github-releases}"),
        ENVIRONMENT,
        "registry.backend github-releases needs a GitHub token",
        "GITHUB_TOKEN",
    ),
    case(
        "environment",
        "model-command-fails",
        replace(
            "  estimator: sklearn.linear_model.LogisticRegression\n  params: {C: 1.0}",
            "  command: python -c 'raise SystemExit(4)'",
        ),
        ENVIRONMENT,
        "model.command",
    ),
    case(
        "environment",
        "model-command-hangs",
        replace(
            "  estimator: sklearn.linear_model.LogisticRegression\n  params: {C: 1.0}",
            "  command: python -c 'import time; time.sleep(600)'\n  timeout: 1s",
        ),
        ENVIRONMENT,
        "ran past model.timeout 1s",
        "nothing was promoted",
    ),
    case(
        "environment",
        "model-command-not-found",
        replace(
            "  estimator: sklearn.linear_model.LogisticRegression\n  params: {C: 1.0}",
            "  command: no-such-trainer --fit",
        ),
        ENVIRONMENT,
        "no-such-trainer",
    ),
]

REGISTRY_CASES = [
    case(
        "registry",
        "rollback-without-champion",
        lambda p: None,
        VERDICT,
        "nothing to roll back to: there is no champion yet",
        command=("rollback",),
    ),
    case(
        "registry",
        "rollback-to-missing-version",
        lambda p: None,
        USAGE,
        "no version 7 in the registry; it holds version 1",
        command=("rollback", "--to", "7"),
        champion=True,
    ),
    case(
        "registry",
        "show-missing-version",
        lambda p: None,
        USAGE,
        "no version 7 in the registry; it holds version 1",
        command=("registry", "show", "7"),
        champion=True,
    ),
    case(
        "registry",
        "pull-missing-version",
        lambda p: None,
        USAGE,
        "no version 7 in the registry; it holds version 1",
        command=("registry", "pull", "--version", "7", "-o", "pulled"),
        champion=True,
    ),
    case(
        "registry",
        "rollback-past-the-first-champion",
        lambda p: None,
        VERDICT,
        "nothing to roll back to: version 1 is the first champion",
        command=("rollback",),
        champion=True,
    ),
    case(
        "registry",
        "promote-without-a-run",
        lambda p: None,
        ENVIRONMENT,
        "not found",
        command=("promote",),
    ),
    case(
        "registry",
        "history-survives-torn-line",
        append('{"action": "prom', ".ci-ml/registry/audit.jsonl"),
        0,
        "promote",
        command=("registry", "history"),
        champion=True,
    ),
    case(
        "registry",
        "champion-pointer-corrupt",
        write(".ci-ml/registry/champion.json", "{torn"),
        ENVIRONMENT,
        "champion.json",
        champion=True,
    ),
    case(
        "registry",
        "champion-pointer-to-missing-version",
        write(".ci-ml/registry/champion.json", '{"version": 9}'),
        ENVIRONMENT,
        "no version 9 in the registry",
        champion=True,
    ),
    case("registry", "list-empty-registry", lambda p: None, 0, "", command=("registry", "list")),
]


def _tamper_champion(project: Path) -> None:
    (project / ".ci-ml/registry/versions/1/model.skops").write_bytes(b"tampered")


def _pickle_champion(project: Path) -> None:
    """An attacker's pickle in place of the champion, with a card that says pickle."""
    import pickle

    marker = project / "PWNED"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    folder = project / ".ci-ml/registry/versions/1"
    for old in folder.glob("model.*"):
        old.unlink()
    (folder / "model.pkl").write_bytes(pickle.dumps(Payload()))
    card = json.loads((folder / "model-card.json").read_text())
    card["format"] = "pickle"
    (folder / "model-card.json").write_text(json.dumps(card))


INTEGRITY_CASES = [
    case(
        "integrity",
        "tampered-champion-model",
        _tamper_champion,
        ENVIRONMENT,
        "sha256",
        champion=True,
    ),
    case(
        "integrity",
        "pickle-swapped-for-champion",
        _pickle_champion,
        ENVIRONMENT,
        "model",
        champion=True,
    ),
    case(
        "integrity",
        "tampered-challenger-evaluated",
        write(".ci-ml/run/challenger/model.skops", b"tampered"),
        ENVIRONMENT,
        "model.skops",
        command=("evaluate",),
        champion=True,
    ),
    # the champion pointer vouches for the model file, not the card beside it
    case(
        "integrity",
        "card-format-edited",
        lambda p: _edit_card(p, format="pickle"),
        ENVIRONMENT,
        "model card format 'pickle' differs from the registry record 'skops'; refusing to load it",
        champion=True,
    ),
    case(
        "integrity",
        "card-trusted-types-edited",
        lambda p: _edit_card(p, trusted_types=["posix.system"]),
        ENVIRONMENT,
        "model card trusted_types ['posix.system'] differs",
        "refusing to load it",
        champion=True,
    ),
]


def _edit_card(project: Path, **changes: object) -> None:
    path = project / ".ci-ml/registry/versions/1/model-card.json"
    card = json.loads(path.read_text())
    card["model_file"] = card["model_file"] | changes
    path.write_text(json.dumps(card))


LOCAL_CASES = CONFIG_CASES + DATA_CASES + ENVIRONMENT_CASES + REGISTRY_CASES + INTEGRITY_CASES


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("projects")
    return {
        "classification": _project(root / "classification", CLASSIFICATION, "kind"),
        "regression": _project(root / "regression", REGRESSION, "y"),
        "binary": _project(root / "binary", BINARY, "churn"),
    }


@pytest.fixture(scope="module")
def champions(
    templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each project once more, with a champion promoted by `ci-ml check --promote`."""
    from ci_ml.cli import main

    root, out = tmp_path_factory.mktemp("champions"), {}
    for name, template in templates.items():
        target = root / name
        shutil.copytree(template, target)
        old = Path.cwd()
        os.chdir(target)
        try:
            assert main(["check", "--promote"]) == 0
        finally:
            os.chdir(old)
        out[name] = target
    return out


def _prepare(one: Case, request: pytest.FixtureRequest, tmp: Path) -> Path:
    """The project the case runs in; a `--config` into a subfolder runs from its parent."""
    projects = request.getfixturevalue("champions" if one.champion else "templates")
    source = projects[one.project]
    spaced = "my models/ci-ml.yaml" in one.command
    project = tmp / ("my models" if spaced else "project")
    shutil.copytree(source, project)
    one.edit(project)
    return tmp if spaced else project


def assert_as_the_user_sees_it(one: Case, result: Result, project: Path) -> None:
    shown = result.out + result.err
    assert result.code == one.code, shown
    assert "Traceback" not in shown
    for words in one.says:
        assert words in shown, f"{words!r} not in:\n{shown}"
    if one.verdict and one.command == ("check",):
        run = project / ".ci-ml/run"
        assert (run / "report.md").is_file()
        report = json.loads((run / "report.json").read_text())
        assert report["verdict"] == "invalid-data"
        named = json.dumps(report)
        quoted = [w.split("'")[1] for w in one.says if w.count("'") >= 2]
        assert all(word in named for word in quoted or one.says[:1]), named


@pytest.mark.parametrize("one", LOCAL_CASES)
def test_bad_input(one: Case, request: pytest.FixtureRequest, tmp_path: Path, run_cli) -> None:
    project = _prepare(one, request, tmp_path)
    result = run_cli(*one.command, cwd=project)
    assert_as_the_user_sees_it(one, result, project)
    assert not (project / "PWNED").exists(), "code from the data ran"


# -- the environment, for real: a disk that fills up while the run folder is written ---

FULL_DISK = """\
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from ci_ml.cli import main
sys.exit(main(["check"]))
"""


@pytest.mark.parametrize("limit", [100, 3_000, 12_000])
def test_environment_full_disk_while_writing_the_run_folder(
    limit: int, templates: dict[str, Path], tmp_path: Path, run_cli
) -> None:
    project = tmp_path / "project"
    shutil.copytree(templates["classification"], project)
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    full = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(limit)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert full.returncode == ENVIRONMENT, full.stderr
    assert "Traceback" not in full.stderr
    assert f"{project / '.ci-ml'}" in full.stderr and "File too large" in full.stderr
    run = project / ".ci-ml/run"
    (run / ".report.json.killed.tmp").write_text("{half")  # as a killed run leaves it

    again = run_cli("check", cwd=project)

    assert again.code == 0, again.err
    assert not [p.name for p in run.rglob("*.tmp")]
    modes = {
        str(p.relative_to(run)): oct(p.stat().st_mode & 0o777)
        for p in run.rglob("*")
        if p.is_file()
    }
    assert set(modes.values()) == {"0o644"}, modes


# -- GitHub: `ci-ml check` in a pull_request job, against the fake GitHub ---------------

SOMEONE_ELSE = "mallory"


def _marker_by_someone_else(fake: FakeGitHub, pr: int) -> None:
    fake.state.add_comment(
        REPO, pr, "<!-- ci-ml report: ci-ml.yaml -->\nfake verdict", SOMEONE_ELSE
    )


def _reply_quoting_the_marker(fake: FakeGitHub, pr: int) -> None:
    body = "> <!-- ci-ml report: ci-ml.yaml -->\n> old report\nI disagree"
    fake.state.add_comment(REPO, pr, body, SOMEONE_ELSE)


@dataclass(frozen=True)
class GitHubCase:
    name: str
    setup: Callable[[FakeGitHub, int], object]
    says: tuple[str, ...] = ()
    code: int = 0  # the verdict's: publishing trouble never changes it
    env: tuple[tuple[str, str], ...] = ()


GITHUB_CASES = [
    pytest.param(c, id=f"github-{c.name}")
    for c in (
        GitHubCase(
            "rate-limit-exhausted",
            lambda f, pr: f.exhaust_rate_limit(TOKEN, reset_in=600),
            ("rate limit exhausted",),
        ),
        GitHubCase("expired-token", lambda f, pr: f.token(TOKEN, expired=True), ("401",)),
        GitHubCase(
            "token-for-another-repository",
            lambda f, pr: f.token(TOKEN, repositories={"octo/other"}),
            ("404",),
        ),
        GitHubCase(
            "read-only-token",
            lambda f, pr: f.token(TOKEN, permissions={"contents": "read"}),
            ("comment",),
        ),
        GitHubCase("fork-token", lambda f, pr: f.token(TOKEN, fork=True), ("comment",)),
        GitHubCase(
            "comments-always-forbidden", lambda f, pr: f.forbid("comments.create"), ("403",)
        ),
        GitHubCase("status-forbidden", lambda f, pr: f.forbid("statuses.create"), ("403",)),
        GitHubCase(
            "api-unreachable",
            lambda f, pr: None,
            ("could not post the PR comment", "port=9"),
            env=(("GITHUB_API_URL", "http://127.0.0.1:9"),),
        ),
        GitHubCase("marker-in-someone-elses-comment", _marker_by_someone_else),
        GitHubCase("reply-quoting-the-marker", _reply_quoting_the_marker),
        GitHubCase(
            "event-file-missing",
            lambda f, pr: None,
            ("GITHUB_EVENT_PATH /nonexistent/event.json",),
            ENVIRONMENT,
            env=(("GITHUB_EVENT_PATH", "/nonexistent/event.json"),),
        ),
        GitHubCase(
            "event-path-unset",
            lambda f, pr: None,
            ("GITHUB_EVENT_PATH is not set: a pull_request run",),
            ENVIRONMENT,
            env=(("GITHUB_EVENT_PATH", ""),),
        ),
        GitHubCase(  # a laptop's run: nothing to post, so nothing GitHub needs is checked
            "outside-actions-without-event-path",
            lambda f, pr: None,
            env=(("GITHUB_ACTIONS", ""), ("GITHUB_EVENT_PATH", "")),
        ),
    )
]


@pytest.mark.parametrize("one", GITHUB_CASES)
def test_github(
    one: GitHubCase, templates, fake_github: FakeGitHub, tmp_path: Path, monkeypatch, run_cli
) -> None:
    project = tmp_path / "project"
    shutil.copytree(templates["classification"], project)
    pr = open_pr(fake_github)
    set_env(monkeypatch, pull_request_env(tmp_path, pr, fake_github, **dict(one.env)))
    # urllib3 still retries a refused connection or a 5xx as often as in production,
    # without sleeping between tries (12 s of the unreachable case): the same errors reach ci-ml
    monkeypatch.setattr(Retry, "get_backoff_time", lambda self: 0.0)
    one.setup(fake_github, pr)
    others = [dict(c) for c in fake_github.state.comments(REPO, pr)]

    result = run_cli("check", cwd=project)

    shown = result.out + result.err
    assert result.code == one.code, shown
    assert "Traceback" not in shown and TOKEN not in shown
    for words in one.says:
        assert words in shown, f"{words!r} not in:\n{shown}"
    now = {c["id"]: c for c in fake_github.state.comments(REPO, pr)}
    for theirs in others:  # nobody else's comment is ever edited or deleted
        assert now.get(theirs["id"], {}).get("body") == theirs["body"]
    run = project / ".ci-ml/run"
    if one.code == ENVIRONMENT:  # found before any training: nothing trained or reported
        assert not (run / "challenger").exists() and not (run / "report.json").exists()
    else:
        assert (run / "report.json").is_file()


def suite_group(nodeid: str) -> str:
    """The group of a case of this suite, from its id (`test_bad_input[config-...]`,
    `test_environment_full_disk...`)."""
    if "[" in nodeid and nodeid.split("[", 1)[1].split("-", 1)[0] in GROUPS:
        return nodeid.split("[", 1)[1].split("-", 1)[0]
    name = nodeid.split("::")[-1].removeprefix("test_")
    return next((g for g in GROUPS if name.startswith(g)), "other")
