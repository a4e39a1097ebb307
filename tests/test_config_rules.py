"""Gate rules are typed when ci-ml.yaml loads: names resolved, contradictions refused."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from ci_ml.comparison import METHODS
from ci_ml.config import BoundRule, BudgetRule, ChangeRule, load_config, parse_rules
from ci_ml.errors import ConfigError


def _edit(project: Path, old: str, new: str) -> None:
    path = project / "ci-ml.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_rules_are_typed_with_metric_names_resolved():
    rules = parse_rules(
        [
            {"metric": "log_loss", "max": 0.5, "min_delta": 0.0, "confidence": 0.9},
            {"budget": "model_size_mb", "max": 10},
        ],
        metrics=("neg_log_loss",),
    )
    assert rules == (
        BoundRule(0, "neg_log_loss", "max", 0.5, 0.9),
        ChangeRule(0, "neg_log_loss", "min_delta", 0.0, 0.9),
        BudgetRule(1, "model_size_mb", "max", 10.0),
    )


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([{"metric": "accuracy", "min": 0.9}, {"metric": "accuracy", "max": 0.5}], "gate[0].min"),
        ([{"metric": "accuracy", "min_delta": 0.2, "max_delta": 0.1}], "gate[0].max_delta"),
        ([{"metric": "r2", "max_regression": 0.1}, {"metric": "r2", "max_delta": -0.2}], "gate[1]"),
    ],
)
def test_contradictory_rules_are_a_config_error_naming_both(entries, named):
    with pytest.raises(ConfigError, match="contradict") as caught:
        parse_rules(entries)
    assert named in caught.value.message and "no challenger can ever pass" in caught.value.message


def test_compatible_bounds_and_other_slices_are_not_contradictions():
    parse_rules([{"metric": "accuracy", "min": 0.5, "max": 0.5}])  # a point is satisfiable
    parse_rules(
        [{"metric": "accuracy", "min": 0.9}, {"metric": "accuracy", "max": 0.5, "slice_by": "x"}]
    )


def test_contradiction_in_the_file_exits_2_before_training(example, run_cli):
    project = example("penguins")
    _edit(project, "{metric: accuracy, min: 0.90}", "{metric: accuracy, min: 0.90, max: 0.5}")
    result = run_cli("check", cwd=project)
    assert result.code == 2, result.err
    assert "ci-ml.yaml: gate[1].min and gate[1].max contradict each other" in result.err
    assert not (project / ".ci-ml/run/challenger").exists()


def test_typed_validation_and_drift_sections(example):
    project = example("penguins")
    config = load_config(project / "ci-ml.yaml")
    assert config.rules and all(r.index < len(config.gate) for r in config.rules)
    assert config.drift.enabled and "enabled" not in config.drift.options


def test_multiple_testing_names_are_defined_once():
    schema = json.loads(resources.files("ci_ml.schemas").joinpath("config.schema.json").read_text())
    enum = schema["properties"]["evaluation"]["properties"]["multiple_testing"]["enum"]
    assert set(enum) <= set(METHODS)
