"""The gate as a pure function: every rule, both metric directions, ties, NaN."""

from __future__ import annotations

import math

import pytest

from ci_ml.gate import decide


def metric(challenger, champion=None):
    delta = None if champion is None or challenger is None else challenger - champion
    return {"challenger": challenger, "champion": champion, "delta": delta}


@pytest.mark.parametrize(
    ("rule", "entry", "status"),
    [
        # absolute bounds, higher-is-better metric
        ({"metric": "accuracy", "min": 0.8}, metric(0.85, 0.9), "pass"),
        ({"metric": "accuracy", "min": 0.8}, metric(0.8, 0.9), "pass"),  # tie passes
        ({"metric": "accuracy", "min": 0.8}, metric(0.79, 0.9), "fail"),
        ({"metric": "accuracy", "max": 0.99}, metric(0.995), "fail"),
        # absolute bounds on a loss are in the loss's own units
        ({"metric": "neg_log_loss", "max": 0.5}, metric(-0.4), "pass"),
        ({"metric": "neg_log_loss", "max": 0.5}, metric(-0.6), "fail"),
        ({"metric": "neg_mean_squared_error", "min": 1.0}, metric(-0.5), "fail"),
        # change rules: improvement = challenger - champion in scorer units
        ({"metric": "f1_macro", "min_delta": 0.0}, metric(0.9, 0.9), "pass"),  # tie
        ({"metric": "f1_macro", "min_delta": 0.0}, metric(0.89, 0.9), "fail"),
        ({"metric": "f1_macro", "min_delta": 0.02}, metric(0.93, 0.9), "pass"),
        ({"metric": "neg_log_loss", "min_delta": 0.0}, metric(-0.30, -0.35), "pass"),
        ({"metric": "neg_log_loss", "min_delta": 0.0}, metric(-0.40, -0.35), "fail"),
        ({"metric": "r2", "max_regression": 0.01}, metric(0.795, 0.8), "pass"),
        ({"metric": "r2", "max_regression": 0.01}, metric(0.78, 0.8), "fail"),
        (
            {"metric": "neg_root_mean_squared_error", "max_regression": 0.5},
            metric(-50.4, -50),
            "pass",
        ),
        (
            {"metric": "neg_root_mean_squared_error", "max_regression": 0.5},
            metric(-50.6, -50),
            "fail",
        ),
        ({"metric": "accuracy", "max_delta": 0.1}, metric(0.99, 0.8), "fail"),  # too good
        ({"metric": "accuracy", "max_delta": 0.1}, metric(0.85, 0.8), "pass"),
        ({"metric": "accuracy", "min_relative_delta": 0.05}, metric(0.84, 0.8), "pass"),
        ({"metric": "accuracy", "min_relative_delta": 0.05}, metric(0.83, 0.8), "fail"),
        (
            {"metric": "neg_mean_absolute_error", "min_relative_delta": 0.1},
            metric(-8.9, -10),
            "pass",
        ),
        (
            {"metric": "neg_mean_absolute_error", "min_relative_delta": 0.1},
            metric(-9.5, -10),
            "fail",
        ),
    ],
)
def test_rule(rule, entry, status):
    decision = decide([rule], {rule["metric"]: entry}, has_champion=True)
    (result,) = decision.rules
    assert result.status == status, result.reason
    assert decision.verdict == ("promote" if status == "pass" else "block")


def test_relative_change_against_a_zero_champion_is_explicit():
    rule = {"metric": "r2", "min_relative_delta": 0.1}
    better = decide([rule], {"r2": metric(0.2, 0.0)}, True).rules[0]
    assert better.status == "pass" and "champion is 0" in better.reason and better.value is None
    same = decide([rule], {"r2": metric(0.0, 0.0)}, True).rules[0]
    assert same.status == "fail"


@pytest.mark.parametrize("bad", [math.nan, None])
def test_missing_or_nan_metric_fails_closed(bad):
    rule = {"metric": "accuracy", "min": 0.5}
    decision = decide([rule], {"accuracy": metric(bad, 0.9)}, True)
    assert decision.verdict == "block"
    assert "missing or NaN" in decision.rules[0].reason
    champion_nan = decide(
        [{"metric": "accuracy", "min_delta": 0}], {"accuracy": metric(0.9, bad)}, True
    )
    assert champion_nan.verdict == "block"


def test_rule_on_an_absent_metric_fails_closed():
    decision = decide([{"metric": "recall", "min": 0.5}], {}, True)
    assert decision.verdict == "block"


def test_first_run_skips_change_rules_and_keeps_absolute_ones():
    rules = [{"metric": "accuracy", "min_delta": 0.0}, {"metric": "accuracy", "min": 0.8}]
    decision = decide(rules, {"accuracy": metric(0.9)}, has_champion=False)
    assert [r.status for r in decision.rules] == ["skipped", "pass"]
    assert decision.verdict == "promote"
    assert "no champion yet" in decision.reason
    low = decide(rules, {"accuracy": metric(0.7)}, has_champion=False)
    assert low.verdict == "block"


def test_one_rule_may_hold_several_bounds_and_each_is_reported():
    rule = {"metric": "accuracy", "min": 0.8, "min_delta": 0.0, "max_delta": 0.05}
    decision = decide([rule], {"accuracy": metric(0.95, 0.85)}, True)
    assert [(r.rule, r.status) for r in decision.rules] == [
        ("min", "pass"),
        ("min_delta", "pass"),
        ("max_delta", "fail"),
    ]
    assert decision.reason.startswith("gate[0] accuracy max_delta")
    assert "too good to be true" in decision.reason


def test_reasons_speak_in_loss_units():
    rule = {"metric": "neg_log_loss", "min_delta": 0.0}
    result = decide([rule], {"neg_log_loss": metric(-0.4, -0.3)}, True).rules[0]
    assert "log_loss 0.3 -> 0.4 (worse)" in result.reason


@pytest.mark.parametrize(
    ("rule", "entry", "has_champion", "status"),
    [
        ({"budget": "model_size_mb", "max": 5}, {"challenger": 4.0, "champion": 1.0}, True, "pass"),
        ({"budget": "model_size_mb", "max": 5}, {"challenger": 6.0, "champion": 1.0}, True, "fail"),
        (
            {"budget": "model_size_mb", "max_ratio": 2},
            {"challenger": 2.0, "champion": 1.0},
            True,
            "pass",
        ),
        (
            {"budget": "model_size_mb", "max_ratio": 2},
            {"challenger": 2.5, "champion": 1.0},
            True,
            "fail",
        ),
        (
            {"budget": "model_size_mb", "max_ratio": 2},
            {"challenger": 2.5, "champion": None},
            False,
            "skipped",
        ),
        ({"budget": "latency_ms_per_1k_rows", "max": 10}, None, True, "fail"),  # not measured
    ],
)
def test_budget_rules(rule, entry, has_champion, status):
    budgets = {} if entry is None else {rule["budget"]: entry}
    decision = decide([rule], {}, has_champion, budgets)
    (result,) = decision.rules
    assert result.status == status, result.reason
