from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from ci_ml.comparison.metrics import Predictions
from ci_ml.comparison.significance import (
    NUISANCE_LEVEL,
    adjust,
    benjamini_hochberg,
    bonferroni,
    check_min_rows,
    holm,
    mcnemar_counts,
    mcnemar_exact,
)
from ci_ml.comparison.slices import slice_metrics


def test_mcnemar_hand_computed_case() -> None:
    # 2 rows only the champion gets right, 8 only the challenger: n = 10 discordant
    # two-sided: 2 * P(X <= 2) = 2 * (1 + 10 + 45) / 1024; one-sided: P(X >= 8) = 56 / 1024
    y = np.array([1] * 15)
    champion = np.array([1] * 3 + [1, 1] + [0] * 8 + [0, 0])
    challenger = np.array([1] * 3 + [0, 0] + [1] * 8 + [0, 0])
    result = mcnemar_exact(y, champion, challenger)
    assert (result.both_right, result.only_champion_right) == (3, 2)
    assert (result.only_challenger_right, result.both_wrong) == (8, 2)
    assert result.p_value == pytest.approx(112 / 1024)
    assert result.p_value_challenger_better == pytest.approx(56 / 1024)
    json.dumps(result.to_dict())


def test_mcnemar_without_discordant_rows_finds_nothing() -> None:
    assert mcnemar_counts(0, 0) == (1.0, 1.0)
    assert mcnemar_counts(5, 5)[0] == 1.0
    assert mcnemar_counts(0, 10)[1] == pytest.approx(1 / 1024)


def test_holm_and_bonferroni_hand_computed() -> None:
    p = [0.01, 0.04, 0.03]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06])
    assert bonferroni(p) == pytest.approx([0.03, 0.12, 0.09])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    result = adjust(p, alpha=0.05, method="holm")
    assert result.rejected == (True, False, False)
    assert adjust(p, method="bonferroni").to_dict()["adjusted"] == pytest.approx([0.03, 0.12, 0.09])
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.0533333, 0.0533333, 0.5]
    )
    assert adjust(p, method="bh").adjusted == tuple(benjamini_hochberg(p))
    with pytest.raises(ValueError, match="holm"):
        adjust(p, method="sidak")


def test_holm_is_never_more_conservative_than_bonferroni() -> None:
    p = list(np.random.default_rng(0).uniform(0, 0.2, 12))
    assert all(h <= b for h, b in zip(holm(p), bonferroni(p), strict=True))


def test_min_rows_is_a_status_not_an_exception() -> None:
    small = check_min_rows(12, 30)
    assert small.status == "not_enough_rows" and not small.judged
    assert small.reason is not None and "not enough rows to judge" in small.reason
    assert check_min_rows(30, 30).judged
    assert small.to_dict()["judged"] is False


def test_slices_sorted_worst_first_with_small_slices_last() -> None:
    y = np.array([0, 1] * 60)
    region = np.array(["north"] * 50 + ["south"] * 50 + ["east"] * 10 + [None] * 10, dtype=object)
    champion = y.copy()
    challenger = y.copy()
    challenger[50:60] = 1 - challenger[50:60]  # challenger loses 10 rows in the south
    challenger[:5] = 1 - challenger[:5]  # and 5 in the north
    results = slice_metrics(
        "accuracy", y, champion, challenger, region, min_rows=20, column="region"
    )
    assert [r.value for r in results[:2]] == ["south", "north"]
    assert results[0].delta == pytest.approx(-0.2) and results[0].judged
    assert results[1].delta == pytest.approx(-0.1)
    small = results[2:]
    assert all(not r.judged and r.reason and "not enough rows" in r.reason for r in small)
    payloads = [r.to_dict() for r in results]
    json.dumps(payloads, allow_nan=False)
    assert {p["value"] for p in payloads[2:]} == {"east", None}
    assert payloads[0]["column"] == "region" and payloads[0]["n_rows"] == 50


def test_slice_where_metric_is_undefined_is_not_judged() -> None:
    y = np.array([0, 1, 0, 1, 1, 1])
    scores = Predictions(decision_function=np.linspace(0, 1, 6), classes=np.array([0, 1]))
    results = slice_metrics("roc_auc", y, None, scores, np.array([1, 1, 1, 1, 2, 2]), min_rows=1)
    assert results[0].value == 1 and results[0].judged and results[0].champion is None
    assert not results[1].judged and results[1].challenger is None
    assert results[1].reason is not None and "undefined" in results[1].reason


def test_the_exact_change_test_is_mcnemar_at_margin_zero_and_its_bound_inverts_it():
    from ci_ml.comparison import exact_change_bound, exact_change_p

    for only_champion, only_challenger in ((0, 3), (2, 9), (10, 25)):
        assert exact_change_p(only_champion, only_challenger, 100, 0.0) == pytest.approx(
            mcnemar_counts(only_champion, only_challenger)[1]
        )
        bound = exact_change_bound(only_champion, only_challenger, 100, 0.95, "above")
        assert exact_change_p(only_champion, only_challenger, 100, bound) == pytest.approx(0.05)


def test_the_exact_change_interval_holds_the_truth_given_the_discordant_rows():
    from ci_ml.comparison import exact_change_interval

    low, high = exact_change_interval(2, 3, 100, 0.95)  # 5 discordant rows, change +0.01
    assert low < 0 < 0.01 < high


def test_with_no_discordant_row_the_change_interval_is_the_bound_on_their_share_not_0():
    from ci_ml.comparison import discordant_share_bounds, exact_change_interval

    for n_rows in (100, 1000):
        _, most = discordant_share_bounds(0, n_rows, NUISANCE_LEVEL)
        assert most == pytest.approx(1 - NUISANCE_LEVEL ** (1 / n_rows))  # 0 of n seen
        assert exact_change_interval(0, 0, n_rows, 0.95) == pytest.approx((-most, most))
    assert exact_change_interval(0, 0, 100, 0.95)[1] > 0.06  # 100 rows rule out little


def test_a_regression_margin_is_shown_by_no_discordant_row_only_when_the_rows_are_many():
    from ci_ml.comparison import exact_change_p

    # 1,000 rows with no disagreement: the discordant share is below 0.0069 at 99.9%
    assert exact_change_p(0, 0, 1000, -0.01) == pytest.approx(NUISANCE_LEVEL)
    assert exact_change_p(0, 0, 100, -0.01) == 1.0  # 100 rows: up to 6.7% could disagree
    assert exact_change_p(0, 0, 1000, 0.0) == 1.0  # and nothing shows a gain
    # 30 of 100 rows discordant, all for the champion: a regression of 0.5 is out of reach
    assert exact_change_p(30, 0, 100, -0.5) == 0.0


def test_the_change_test_is_monotone_in_the_margin_and_a_regression_never_needs_more():
    from ci_ml.comparison import exact_change_p

    margins = np.linspace(-0.2, 0.2, 81)
    for only_champion, only_challenger in ((0, 0), (0, 2), (3, 1), (10, 20), (40, 45)):
        p = [exact_change_p(only_champion, only_challenger, 100, m) for m in margins]
        assert np.all(np.diff(p) >= -1e-12), (only_champion, only_challenger)
        mcnemar = exact_change_p(only_champion, only_challenger, 100, 0.0)
        assert max(p[:40]) <= mcnemar  # every regression margin: at most McNemar's p


EXACT_ROWS = 40  # every outcome on this many rows is enumerated: no simulation error


@functools.cache
def _outcomes() -> list[tuple[int, int]]:
    """Every (only champion, only challenger) count on EXACT_ROWS rows."""
    return [(b, c) for b in range(EXACT_ROWS + 1) for c in range(EXACT_ROWS + 1 - b)]


def _probabilities(discordant: float, share: float) -> np.ndarray:
    from scipy.stats import multinomial

    cells = [discordant * (1 - share), discordant * share, 1 - discordant]
    tables = [[b, c, EXACT_ROWS - b - c] for b, c in _outcomes()]
    return np.asarray(multinomial.pmf(tables, EXACT_ROWS, cells))


@functools.cache
def _intervals() -> np.ndarray:
    from ci_ml.comparison import exact_change_interval

    return np.array([exact_change_interval(b, c, EXACT_ROWS, 0.95) for b, c in _outcomes()])


@functools.cache
def _passes(margin: float) -> np.ndarray:
    from ci_ml.comparison import exact_change_p

    return np.array([exact_change_p(b, c, EXACT_ROWS, -margin) <= 0.05 for b, c in _outcomes()])


@pytest.mark.parametrize("discordant", [0.01, 0.03, 0.1, 0.3])
def test_the_change_interval_covers_unconditionally_computed_exactly(discordant):
    # the probability over every outcome, D = 0 included, whichever model the rows favour
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        change = discordant * (2 * share - 1)
        low, high = _intervals().T
        coverage = _probabilities(discordant, share) @ ((low <= change) & (change <= high))
        assert coverage >= 0.95, (share, coverage)


@pytest.mark.parametrize("margin", [0.01, 0.03, 0.1])
def test_a_regression_margin_at_the_truth_passes_at_most_its_level_computed_exactly(margin):
    for discordant in (margin, 2 * margin, 0.3):
        share = 0.5 - margin / (2 * discordant)  # the challenger worse by exactly the margin
        size = _probabilities(discordant, share) @ _passes(margin)
        # level + NUISANCE_LEVEL is the proved bound (docs/statistics.md)
        assert size <= 0.05 + NUISANCE_LEVEL, (discordant, size)


def test_the_exact_accuracy_bound_inverts_the_binomial_test():
    from ci_ml.comparison import exact_accuracy_bound, exact_accuracy_p

    lower = exact_accuracy_bound(80, 100, 0.95, "above")
    upper = exact_accuracy_bound(80, 100, 0.95, "below")
    assert lower < 0.8 < upper
    assert exact_accuracy_p(80, 100, lower, "above") == pytest.approx(0.05)
    assert exact_accuracy_p(80, 100, upper, "below") == pytest.approx(0.05)
