"""The gate as a pure function: every rule, both metric directions, ties, NaN."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import beta

from ci_ml.config import parse_rules
from ci_ml.gate import Evidence
from ci_ml.gate import decide as decide_typed


def decide_on(rules, evidence):
    """The gate on `gate:` entries as written in ci-ml.yaml."""
    return decide_typed(parse_rules(rules), evidence)


def decide(rules, metrics, has_champion, budgets=None):
    """The gate on point estimates only (no bootstrap evidence)."""
    return decide_on(rules, Evidence(metrics, has_champion, budgets=budgets or {}))


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


# -- confidence rules on the paired bootstrap ------------------------------------------------


def evidence_with(samples, champion=None, n_rows=500, min_rows=30, method="holm", name="accuracy"):
    """Resampled values as evaluate stores them: row 0 challenger, row 1 champion."""
    rng = np.random.default_rng(0)
    challenger = np.asarray(samples, dtype=float)
    rows = [challenger]
    if champion is not None:
        rows.append(np.asarray(champion, dtype=float) + rng.normal(0, 1e-12, len(challenger)))
    values = np.vstack(rows)
    entry = metric(
        float(np.mean(values[0])), float(np.mean(values[1])) if champion is not None else None
    )
    return Evidence(
        {name: entry},
        champion is not None,
        primary=name,
        resampled={name: values},
        n_rows=n_rows,
        min_rows=min_rows,
        multiple_testing=method,
    )


def test_better_with_confidence_needs_the_interval_not_the_point_estimate():
    rng = np.random.default_rng(1)
    champion = np.full(1000, 0.80)
    noisy = 0.81 + rng.normal(0, 0.02, 1000)  # better on average, but not surely
    sure = 0.85 + rng.normal(0, 0.005, 1000)
    rule = {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95}
    point = decide_on([{"metric": "accuracy", "min_delta": 0.0}], evidence_with(noisy, champion))
    assert point.verdict == "promote"
    doubtful = decide_on([rule], evidence_with(noisy, champion)).rules[0]
    assert doubtful.status == "fail" and "not shown at 95%" in doubtful.reason
    assert doubtful.p_value > 0.05 and doubtful.interval[0] < 0 < doubtful.interval[1]
    confident = decide_on([rule], evidence_with(sure, champion)).rules[0]
    assert confident.status == "pass" and confident.p_value < 0.01


def test_non_inferiority_with_confidence():
    rng = np.random.default_rng(2)
    champion = np.full(1000, 0.90)
    slightly_worse = 0.895 + rng.normal(0, 0.002, 1000)
    rule = {"metric": "accuracy", "max_regression": 0.01, "confidence": 0.95}
    assert decide_on([rule], evidence_with(slightly_worse, champion)).verdict == "promote"
    rule_tight = {"metric": "accuracy", "max_regression": 0.001, "confidence": 0.95}
    assert decide_on([rule_tight], evidence_with(slightly_worse, champion)).verdict == "block"


def test_identical_models_are_never_better_with_confidence():
    same = np.full(1000, 0.9)
    rule = {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95}
    result = decide_on([rule], evidence_with(same, same)).rules[0]
    assert result.status == "fail" or result.p_value > 0.05


def test_too_few_rows_to_judge_blocks_and_says_so():
    rule = {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95}
    evidence = evidence_with(np.full(1000, 0.99), np.full(1000, 0.5), n_rows=12, min_rows=30)
    result = decide_on([rule], evidence).rules[0]
    assert result.status == "fail"
    assert "not enough rows to judge" in result.reason and "12 eval rows" in result.reason


def test_several_confidence_rules_are_holm_adjusted():
    rng = np.random.default_rng(3)
    champion = np.full(1000, 0.80)
    # one-sided p near 0.03 alone: passes at 95% by itself, not after Holm over two rules
    borderline = 0.80 + rng.normal(0.0188, 0.01, 1000)
    rules = [
        {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95},
        {"metric": "accuracy", "max_regression": 0.0, "confidence": 0.95},
    ]
    alone = decide_on(rules[:1], evidence_with(borderline, champion)).rules[0]
    both = decide_on(rules, evidence_with(borderline, champion))
    assert alone.status == "pass", alone.reason
    assert both.multiple_testing == "holm"
    assert all(r.p_adjusted >= r.p_value for r in both.rules)
    assert both.verdict == "block"  # p about 0.03 each, about 0.06 after Holm
    assert "holm-adjusted over 2 rules" in both.rules[0].reason
    none = decide_on(rules, evidence_with(borderline, champion, method="none"))
    assert none.rules[0].p_adjusted == none.rules[0].p_value


def test_confidence_on_an_absolute_bound_uses_the_challengers_own_samples():
    rng = np.random.default_rng(4)
    rule = {"metric": "neg_log_loss", "max": 0.5, "confidence": 0.95}
    low_loss = -(0.40 + rng.normal(0, 0.01, 1000))
    entry = evidence_with(low_loss, name="neg_log_loss")
    assert decide_on([rule], entry).rules[0].status == "pass"
    near = -(0.49 + rng.normal(0, 0.02, 1000))
    assert decide_on([rule], evidence_with(near, name="neg_log_loss")).rules[0].status == "fail"


def test_max_delta_stays_on_the_point_estimate_even_with_confidence():
    rule = {"metric": "accuracy", "max_delta": 0.05, "confidence": 0.95}
    result = decide_on([rule], evidence_with(np.full(100, 0.99), np.full(100, 0.8))).rules[0]
    assert result.status == "fail" and "too good to be true" in result.reason


# -- slices ----------------------------------------------------------------------------------


def slice_(value, challenger, champion, n_rows=100, judged=True):
    delta = None if champion is None else challenger - champion
    return {
        "column": "island",
        "metric": "f1_macro",
        "value": value,
        "n_rows": n_rows,
        "challenger": challenger,
        "champion": champion,
        "delta": delta,
        "judged": judged,
        "reason": None if judged else "too few rows",
    }


def slice_evidence(slices, has_champion=True):
    return Evidence({"f1_macro": metric(0.9, 0.9)}, has_champion, primary="f1_macro", slices=slices)


def test_no_slice_may_regress_more_than_the_tolerance():
    rule = {"metric": "f1_macro", "slice_by": "island", "max_regression": 0.05}
    ok = [slice_("Biscoe", 0.9, 0.92), slice_("Dream", 0.8, 0.82)]
    assert decide_on([rule], slice_evidence(ok)).verdict == "promote"
    bad = [slice_("Biscoe", 0.9, 0.92), slice_("Dream", 0.70, 0.82)]
    decision = decide_on([rule], slice_evidence(bad))
    assert decision.verdict == "block"
    assert "island='Dream'" in decision.rules[0].reason


def test_every_slice_above_a_floor_and_small_slices_are_reported_not_gated():
    rule = {"metric": "f1_macro", "slice_by": "island", "min": 0.7}
    slices = [slice_("Biscoe", 0.9, 0.9), slice_("Torgersen", 0.2, 0.9, n_rows=5, judged=False)]
    result = decide_on([rule], slice_evidence(slices)).rules[0]
    assert result.status == "pass"
    assert "1 slice(s) too small to judge (not gated)" in result.reason


def test_slice_rule_without_any_slices_fails_closed():
    rule = {"metric": "f1_macro", "slice_by": "island", "min": 0.7}
    assert decide_on([rule], slice_evidence([])).verdict == "block"


def test_primary_and_guardrail_roles_are_reported():
    rules = [{"metric": "f1_macro", "min_delta": 0}, {"metric": "accuracy", "max_regression": 0.01}]
    metrics = {"f1_macro": metric(0.9, 0.88), "accuracy": metric(0.9, 0.9)}
    decision = decide_on(rules, Evidence(metrics, True, primary="f1_macro"))
    assert [r.role for r in decision.rules] == ["primary", "guardrail"]


# -- exact floor, words and what a rule can detect ---------------------------------------------


def _three_discordant_rows_all_for_the_challenger():
    """100 rows, identical predictions except 3 rows where only the challenger is right."""
    from ci_ml.comparison import paired_bootstrap_values

    y = np.tile([0, 1], 50)
    champion = y.copy()
    champion[:20] = 1 - champion[:20]
    challenger = champion.copy()
    challenger[:3] = y[:3]
    _, values = paired_bootstrap_values(["accuracy"], y, challenger, champion, seed=0)
    entry = metric(float(np.mean(challenger == y)), float(np.mean(champion == y)))
    return entry, values[0]


def test_few_discordant_rows_cannot_pass_where_the_exact_test_says_no():
    entry, values = _three_discordant_rows_all_for_the_challenger()
    rule = {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95}
    base = Evidence({"accuracy": entry}, True, resampled={"accuracy": values}, n_rows=100)
    bootstrap_only = decide_on([rule], base).rules[0]
    assert bootstrap_only.status == "pass"  # p ~ e^-3: the flaw the exact floor removes
    floored = decide_on([rule], replace(base, discordant=(0, 3))).rules[0]
    assert floored.status == "fail"
    assert floored.exact_p_value == pytest.approx(0.125) and floored.p_value == pytest.approx(0.125)
    assert "exact McNemar on 3 discordant rows" in floored.reason
    assert "95% lower bound" in floored.reason and floored.side == "lower"


def test_a_rule_decided_by_the_exact_test_reports_its_bound_and_interval():
    # 4 of 4 discordant rows for the challenger: exact p = 1/16 > 0.05, the bootstrap's ~ e^-4
    entry, values = _three_discordant_rows_all_for_the_challenger()
    rule = {"metric": "accuracy", "min_delta": 0.0, "confidence": 0.95}
    evidence = Evidence(
        {"accuracy": entry}, True, resampled={"accuracy": values}, n_rows=100, discordant=(0, 4)
    )
    result = decide_on([rule], evidence).rules[0]
    assert result.status == "fail" and result.exact_p_value == pytest.approx(1 / 16)
    # never "95% lower bound 0.01, needs >= 0" beside a rule that failed for lack of confidence
    assert result.bound is not None and result.bound < 0
    assert result.interval is not None and result.interval[0] < 0 < result.interval[1]


def test_a_change_margin_on_accuracy_is_tested_exactly_too():
    # 10 of 10 discordant rows for the challenger on 100 rows: exact McNemar p = 2^-10, but
    # a gain of at least 0.09 needs at least 9% of all rows discordant, and 10 of 100 do not
    # show that: at 99.9% as few as 3.5% could be (Berger-Boos; the plug-in D / n said 0.6)
    entry, values = _three_discordant_rows_all_for_the_challenger()
    rule = {"metric": "accuracy", "min_delta": 0.09, "confidence": 0.95}
    evidence = Evidence(
        {"accuracy": entry}, True, resampled={"accuracy": values}, n_rows=100, discordant=(0, 10)
    )
    result = decide_on([rule], evidence).rules[0]
    assert result.exact_p_value == 1.0 and result.status == "fail"
    # 20 of 20: their share is at least 10.4%, so the split must be above 0.5 + 0.09 / 0.208
    result = decide_on([rule], replace(evidence, discordant=(0, 20))).rules[0]
    fewest = float(beta.ppf(0.001, 20, 81))
    assert result.exact_p_value == pytest.approx(0.001 + (0.5 + 0.09 / (2 * fewest)) ** 20)
    assert result.p_value is not None and result.p_value >= result.exact_p_value
    assert "exact test of the margin on 20 discordant rows of 100" in result.reason


def test_no_discordant_row_on_many_rows_shows_a_small_regression_and_says_how_small():
    # identical predictions on 1,000 rows: at 99.9% under 0.69% of such rows disagree, so a
    # regression of 0.01 is ruled out; the bound says -0.0069, not "0 to 0"
    rule = {"metric": "accuracy", "max_regression": 0.01, "confidence": 0.95}
    entry = metric(0.8, 0.8)
    resampled = {"accuracy": np.full((2, 200), 0.8)}
    evidence = Evidence(
        {"accuracy": entry}, True, resampled=resampled, n_rows=1000, discordant=(0, 0)
    )
    result = decide_on([rule], evidence).rules[0]
    assert result.status == "pass" and result.exact_p_value == pytest.approx(0.001)
    assert result.bound == pytest.approx(-(1 - 0.001 ** (1 / 1000)))
    assert result.interval is not None and result.interval[0] < 0 < result.interval[1]
    few = decide_on([rule], replace(evidence, n_rows=100)).rules[0]  # 100 rows: up to 6.7%
    assert few.status == "fail" and few.exact_p_value == 1.0


def test_a_passing_max_delta_reads_as_a_pass():
    result = decide(
        [{"metric": "accuracy", "max_delta": 0.3}], {"accuracy": metric(0.85, 0.8)}, True
    )
    reason = result.rules[0].reason
    assert result.rules[0].status == "pass" and "within the 0.3 plausibility limit" in reason
    assert "too good" not in reason


def test_identical_models_never_show_minus_zero():
    rule = {"metric": "neg_log_loss", "min_delta": 0.0}
    reason = decide([rule], {"neg_log_loss": metric(-0.3, -0.3)}, True).rules[0].reason
    assert "-0" not in reason and "unchanged at 0.3" in reason


def test_a_rule_never_fails_at_a_displayed_tie():
    rule = {"metric": "accuracy", "min_relative_delta": -0.01}
    result = decide([rule], {"accuracy": metric(0.80, 0.8 / 0.98999)}, True).rules[0]
    assert result.status == "fail"
    shown = result.reason.split("relative improvement ")[1].split(" < the ")
    assert shown[0] != shown[1].removesuffix(" required")


def test_an_underpowered_rule_says_what_it_can_detect_and_the_rows_it_needs():
    rng = np.random.default_rng(3)
    champion = np.full(1000, 0.80)
    wide = 0.80 + rng.normal(0, 0.02, 1000)  # equal models, interval about +-0.04
    rule = {"metric": "accuracy", "max_regression": 0.01, "confidence": 0.95}
    result = decide_on([rule], evidence_with(wide, champion, n_rows=100)).rules[0]
    assert result.status == "fail" and result.underpowered
    assert result.detectable_change == pytest.approx(2.49 * 0.02, rel=0.1)
    assert result.rows_needed == pytest.approx(
        100 * (result.detectable_change / 0.01) ** 2, rel=0.01
    )
    assert "cannot pass for a change the size of its margin" in result.reason
    data = result.to_dict()
    assert {"test", "side", "bound", "detectable_change", "rows_needed", "underpowered"} <= set(
        data
    )


def _rmse_evidence(y, challenger, champion, name="neg_root_mean_squared_error"):
    """The gate's evidence from ci-ml's own bootstrap, as `evaluate` records it."""
    from ci_ml.comparison import paired_bootstrap_values

    results, values = paired_bootstrap_values([name], y, challenger, champion)
    result = results[0]
    entry = metric(result.challenger, result.champion) | {
        "tail_index": result.tail_index,
        "upper_bound_method": result.upper_bound_method,
        "change_interval_method": result.delta_interval_method,
    }
    return Evidence({name: entry}, True, resampled={name: values[0]}, n_rows=len(y), min_rows=30)


def test_a_max_rule_on_heavy_tailed_errors_says_its_bound_is_tail_extrapolated():
    rng = np.random.default_rng(21)
    y = rng.standard_t(3, 300)  # squared errors with infinite variance
    evidence = _rmse_evidence(y, np.zeros(300), rng.normal(0, 0.5, 300))
    rules = [
        {"metric": "neg_root_mean_squared_error", "max": 10.0, "confidence": 0.95},
        {"metric": "neg_root_mean_squared_error", "min_delta": -10.0, "confidence": 0.95},
    ]
    bound, change = decide_on(rules, evidence).rules
    assert bound.bound_method == "studentized and Peng tail-extrapolated"
    assert "Peng tail-extrapolated: the losses' tail index" in bound.reason
    assert bound.to_dict()["bound_method"] == bound.bound_method
    # the change: the symmetric studentized mean difference (docs/statistics.md)
    assert change.bound_method == "symmetric studentized on the mean losses' difference"
    assert "symmetric studentized on the mean losses' difference: a model's" in change.reason
    assert "Peng" not in change.reason


def test_an_mae_max_rule_names_its_own_tail_threshold_and_keeps_the_bootstrap_t_change():
    rng = np.random.default_rng(21)
    y = rng.standard_t(3, 300)  # absolute errors of index 3, below MAE's threshold 5
    name = "neg_mean_absolute_error"
    evidence = _rmse_evidence(y, np.zeros(300), rng.normal(0, 0.5, 300), name)
    rules = [
        {"metric": name, "max": 10.0, "confidence": 0.95},
        {"metric": name, "min_delta": -10.0, "confidence": 0.95},
    ]
    bound, change = decide_on(rules, evidence).rules
    assert bound.bound_method == "studentized and Peng tail-extrapolated"
    assert "tail index" in bound.reason and " < 5)" in bound.reason, bound.reason
    assert change.bound_method == "studentized"


def test_a_max_rule_on_gaussian_errors_keeps_the_studentized_bound():
    rng = np.random.default_rng(22)
    y = rng.normal(0, 1, 2000)
    evidence = _rmse_evidence(y, np.zeros(2000), rng.normal(0, 0.5, 2000))
    rule = {"metric": "neg_root_mean_squared_error", "max": 10.0, "confidence": 0.95}
    result = decide_on([rule], evidence).rules[0]
    assert result.status == "pass" and result.bound_method == "studentized"
    assert "Peng" not in result.reason
