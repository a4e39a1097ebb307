"""The gate's false promotion rate holds its nominal level where it once broke.

A statistical test: fixed seeds, a few hundred trials of the cases that broke
(equally good classifiers that disagree on only a few of 100 eval rows), each
run through ci-ml's own bootstrap and gate. The tolerance is not hand-tuned:
a rate at exactly the nominal 5% stays below the binomial 99.9% quantile of its
trial count, so a correct gate fails this test about once in a thousand seeds,
and the seeds are fixed. The full tables: benchmarks/calibration.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

ALPHA = 0.05
TRIALS = 150


def _suite():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "calibration.py"
    spec = importlib.util.spec_from_file_location("ci_ml_statistics_suite", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


suite = _suite()


def most_allowed(trials: int) -> int:
    """Promotions a gate at exactly ALPHA stays at or below with 99.9% probability."""
    return int(binom.ppf(0.999, trials, ALPHA))


@pytest.mark.parametrize("discordant", [3, 4, 7])
def test_false_promotion_at_few_discordant_rows_is_at_most_nominal(discordant):
    result = suite.false_promotion_at(discordant, TRIALS, floor=True)
    assert result.hits <= most_allowed(TRIALS), result.cell()


def test_false_promotion_with_few_disagreements_is_at_most_nominal():
    result = suite.false_promotion(100, 0.05, TRIALS, floor=True)
    assert result.hits <= most_allowed(TRIALS), result.cell()


def test_bootstrap_p_value_is_never_below_the_exact_one():
    rng = np.random.default_rng(5)
    for trial in range(40):
        data = suite.fixed_discordant(rng, 100, int(rng.integers(1, 12)))
        decision, _ = suite.gate_once(suite.GAIN_RULE, "accuracy", data, trial, True)
        rule = decision.rules[0]
        assert rule.exact_p_value is not None and rule.p_value >= rule.exact_p_value


def test_the_accuracy_change_interval_covers_when_disagreements_are_few():
    # 5 of 100 rows in disagreement: the percentile interval covered 91.0% +- 1.4%
    _, after, _, contradicts, *_ = suite.accuracy_intervals(100, 0.05, TRIALS)
    assert TRIALS - after.hits <= most_allowed(TRIALS), after.cell()
    # the interval and the verdict come from the same tests: never at odds, by construction
    assert contradicts.hits == 0, contradicts.cell()


def test_the_accuracy_change_interval_covers_when_no_row_or_one_row_is_discordant():
    # 1% of 100 rows discordant, each for the challenger (true change +1%): 37% of the eval
    # sets have none, where the interval conditional on D was "0 to 0" (it covered 55%)
    _, after, _, _, few, _ = suite.accuracy_intervals(100, 0.01, TRIALS, gain=0.01)
    assert few.hits >= TRIALS // 2  # the case is what it says: D <= 2 on most sets
    assert TRIALS - after.hits <= most_allowed(TRIALS), after.cell()


@pytest.mark.parametrize(
    ("kind", "share", "margin"), [("max_regression", 0.01, 0.01), ("min_delta", 0.03, 0.03)]
)
def test_a_margin_at_the_truth_passes_at_most_nominally_when_disagreements_are_few(
    kind, share, margin
):
    # every discordant row against the challenger (max_regression) or for it (min_delta);
    # the bootstrap alone passed the first 37% of the time (docs/statistics.md, "Margins")
    result = suite.margin_rule(kind, 100, share, margin, TRIALS, floor=True)
    assert result.hits <= most_allowed(TRIALS), result.cell()


# -- moment metrics under heavy tails: t(3) residuals, whose squares have infinite variance ----

HEAVY_TRIALS = 120


def test_a_max_rule_at_the_true_rmse_passes_at_most_nominally_under_heavy_tails():
    # before the tail-extrapolated bound this passed 25.7% +- 2.5% (docs/statistics.md)
    result = suite.rmse_false_pass(100, "t3", HEAVY_TRIALS, suite.BOUND_RULE_RMSE)
    assert result.hits <= most_allowed(HEAVY_TRIALS), result.cell()


def test_the_own_rmse_interval_keeps_its_coverage_under_heavy_tails():
    # two-sided 95%: at most the misses of a correct interval (5%) at the 99.9% quantile
    result = suite.rmse_coverage(100, "t3", HEAVY_TRIALS, "own")
    misses = HEAVY_TRIALS - result.hits
    assert misses <= most_allowed(HEAVY_TRIALS), result.cell()


def test_the_own_rmse_interval_upper_end_misses_at_most_nominally_under_heavy_tails():
    # the side a `max:` rule rests on: at most its 2.5% (measured 2.4% +- 0.5% in 1,000
    # eval sets); the lower end misses less than its 2.5% (0.4%), hence coverage above 95%
    rates = suite.own_rmse_rates(100, "t3", HEAVY_TRIALS)
    misses = rates["upper end below the truth"]
    assert misses.hits <= int(binom.ppf(0.999, HEAVY_TRIALS, ALPHA / 2)), misses.cell()
    assert rates["max"].hits <= most_allowed(HEAVY_TRIALS), rates["max"].cell()


def test_log_loss_rules_at_the_truth_pass_at_most_nominally():
    # an overconfident classifier (log-odds x1.3), whose per-row log losses trip the tail
    # switch on about a third of the eval sets of 100 rows
    rates = suite.log_loss_rates(100, HEAVY_TRIALS, "overconfident")
    for name in ("max", "change"):
        assert rates[name].hits <= most_allowed(HEAVY_TRIALS), (name, rates[name].cell())
    assert HEAVY_TRIALS - rates["own"].hits <= most_allowed(HEAVY_TRIALS), rates["own"].cell()


def test_the_poisson_bootstrap_keeps_the_max_rule_and_own_coverage_under_heavy_tails():
    # the Poisson bootstrap (evaluation.bootstrap: poisson, engine: spark) with the same
    # studentized bound and tail switch: before it had neither (docs/statistics.md)
    own, _, bound_rule, gain_rule = suite.poisson_rmse_rates(100, "t3", HEAVY_TRIALS)
    assert bound_rule.hits <= most_allowed(HEAVY_TRIALS), bound_rule.cell()
    assert HEAVY_TRIALS - own.hits <= most_allowed(HEAVY_TRIALS), own.cell()
    assert gain_rule.hits <= most_allowed(HEAVY_TRIALS), gain_rule.cell()


GAIN_TRIALS = 400


def test_a_min_delta_rule_at_the_true_rmse_gain_passes_at_most_nominally_under_heavy_tails():
    # the change under the tail switch: the symmetric studentized mean difference. The plain
    # bootstrap-t passed 6.6% +- 0.3% of 6,000 such eval sets (docs/statistics.md); this many
    # trials guard against a gross failure only (at most 35 of 400), not against that excess
    result = suite.rmse_false_pass(100, "t3", GAIN_TRIALS, suite.GAIN_RULE_RMSE)
    assert result.hits <= most_allowed(GAIN_TRIALS), result.cell()


def test_mae_rules_and_intervals_hold_under_heavy_tails():
    # absolute t(3) errors (tail index 3): Hill's switch fires below 2 x 2.5 for absolute
    # errors, on 97% of 2,000 eval sets of 100 rows (docs/statistics.md, MAE); at 2.5, on 43%,
    # `max: <true MAE>` passed 6.5% +- 0.5%, 10.4% of the sets where it did not fire
    rates = suite.moment_rates(suite.MAE, 100, "t3", HEAVY_TRIALS)
    fired = rates["own switch"].hits
    assert fired >= binom.ppf(0.001, HEAVY_TRIALS, 0.9), rates["own switch"].cell()
    for name in ("max", "min_delta"):
        assert rates[name].hits <= most_allowed(HEAVY_TRIALS), (name, rates[name].cell())
    for name in ("own", "change interval"):
        misses = HEAVY_TRIALS - rates[name].hits
        assert misses <= most_allowed(HEAVY_TRIALS), (name, rates[name].cell())


def test_the_true_mae_under_t3_noise_matches_a_large_monte_carlo():
    rng = np.random.default_rng(11)
    draws = np.abs(rng.standard_t(3, 2_000_000) + rng.normal(0, 0.5, 2_000_000))
    error = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - suite.true_mae("t3", 0.5)) < 4 * error
    assert suite.true_mae("gaussian", 0.5) == pytest.approx(np.sqrt(3.25 * 2 / np.pi))
