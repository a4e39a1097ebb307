"""Metric names are checked at config load from a table, without importing
scikit-learn's metrics; the table says what scikit-learn's own scorers say."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sklearn.metrics import get_scorer_names

from ci_ml.comparison import resolve_metric
from ci_ml.config import load_config
from ci_ml.errors import ConfigError
from ci_ml.metrics import KNOWN_SCORERS, metric_specs, spec_of

CONFIG = """\
version: 1
name: table
task: {task}
data: {{train: train.csv, target: y}}
model: {{estimator: sklearn.linear_model.LogisticRegression}}
metrics: {metrics}
gate: [{{metric: {first}, min_delta: -1.0}}]
"""


def config_file(tmp_path: Path, metrics: str, task: str = "classification") -> Path:
    (tmp_path / "train.csv").write_text("x,y\n1,0\n2,1\n")
    path = tmp_path / "ci-ml.yaml"
    first = metrics.strip("[]").split(",")[0]
    path.write_text(CONFIG.format(task=task, metrics=metrics, first=first))
    return path


@pytest.mark.parametrize("name", sorted(KNOWN_SCORERS))
def test_each_known_scorer_has_scikit_learns_task_and_responses(name: str) -> None:
    if name not in get_scorer_names():
        pytest.skip(f"{name} is not a scorer of this scikit-learn")
    assert KNOWN_SCORERS[name] == spec_of(resolve_metric(name))


def test_every_scorer_of_this_scikit_learn_is_in_the_table() -> None:
    assert sorted(set(get_scorer_names()) - set(KNOWN_SCORERS)) == []


def test_checking_the_metrics_of_a_config_imports_no_scikit_learn(tmp_path: Path) -> None:
    path = config_file(tmp_path, "[roc_auc, accuracy, neg_log_loss]")
    script = textwrap.dedent(
        f"""
        import sys
        from ci_ml.config import load_config
        from ci_ml.metrics import metric_specs
        specs = metric_specs(load_config({str(path)!r}))
        print([s.name for s in specs], sorted(m for m in sys.modules if m.startswith("sklearn")))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "['roc_auc', 'accuracy', 'neg_log_loss'] []", done.stderr


def test_a_metric_of_the_other_task_is_refused_from_the_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"metrics\[1\]: 'r2' is a regression metric"):
        metric_specs(load_config(config_file(tmp_path, "[accuracy, r2]")))


def test_an_unknown_name_is_refused_with_scikit_learns_suggestions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"metrics\[0\]: unknown metric 'rocauc'.*roc_auc"):
        metric_specs(load_config(config_file(tmp_path, "[rocauc]")))
