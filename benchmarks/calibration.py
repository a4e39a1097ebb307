"""Calibration of the gate's statistics: simulations with known truth.

    python benchmarks/calibration.py [--quick] [--write docs/statistics.md]
    python benchmarks/calibration.py --only moment --trials 100=400,1000=150,10000=30

Every number is a Monte Carlo proportion over independent trials, shown with
its standard error (sqrt(p(1-p)/trials)). Each trial draws fresh eval rows,
runs ci-ml's own paired bootstrap (`comparison.paired_bootstrap_values`, 1,000
resamples) and its gate (`gate.decide` on typed rules), exactly as `ci-ml gate`
does. "before" is the gate as it was (bootstrap p-value alone); "after" adds the
exact floor on accuracy (the larger of the bootstrap and exact p-values).

The drift tables come from benchmarks/statistics_drift.py (`tables(quick)`)
when it is present. `--write` regenerates docs/statistics.md, with the commit.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.integrate import quad
from scipy.stats import norm
from scipy.stats import t as student_t
from sklearn.base import BaseEstimator, RegressorMixin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ci_ml.comparison import mcnemar_exact, paired_bootstrap_values, resolve_metric  # noqa: E402
from ci_ml.comparison.bootstrap import percentile_interval, resampled_values  # noqa: E402
from ci_ml.comparison.metrics import Predictions, as_predictions  # noqa: E402
from ci_ml.comparison.significance import (  # noqa: E402
    SYMMETRIC_STUDENTIZED,
    TAIL_EXTRAPOLATED,
)
from ci_ml.config import parse_rules  # noqa: E402
from ci_ml.engines import EvaluationRequest  # noqa: E402
from ci_ml.engines.local import LocalEngine  # noqa: E402
from ci_ml.gate import Decision, Evidence, decide  # noqa: E402

RESAMPLES = 1000
LEVEL = 0.95
T3_VARIANCE = 3.0  # variance of Student's t with 3 degrees of freedom


@dataclass(frozen=True)
class Rate:
    """A Monte Carlo proportion and its standard error."""

    hits: int
    trials: int

    @property
    def value(self) -> float:
        return self.hits / self.trials

    @property
    def error(self) -> float:
        p = self.value
        return math.sqrt(max(p * (1 - p), 1 / self.trials**2) / self.trials)

    def cell(self) -> str:
        if self.hits == 0:
            return f"0 of {self.trials}"
        return f"{self.value:.1%} ± {self.error:.1%}"


# -- simulated contenders ------------------------------------------------------------------


def labels(rng: np.random.Generator, n: int, discordant: np.ndarray, favours: np.ndarray) -> Any:
    """Binary labels and two classifiers that disagree exactly on `discordant` rows;
    `favours` says, per discordant row, whether the challenger is the right one."""
    y = rng.integers(0, 2, n)
    both_right = rng.random(n) < 0.8
    champion_right = np.where(discordant, ~favours, both_right)
    challenger_right = np.where(discordant, favours, both_right)
    return y, np.where(challenger_right, y, 1 - y), np.where(champion_right, y, 1 - y)


def equal_classifiers(rng: np.random.Generator, n: int, share: float, gain: float = 0.0) -> Any:
    """Equally good classifiers (gain 0) disagreeing on about `share` of the rows."""
    discordant = rng.random(n) < share
    favours = rng.random(n) < 0.5 + gain / (2 * share)
    return labels(rng, n, discordant, favours)


def fixed_discordant(rng: np.random.Generator, n: int, count: int) -> Any:
    """Equally good classifiers disagreeing on exactly `count` rows."""
    discordant = np.zeros(n, dtype=bool)
    discordant[rng.choice(n, count, replace=False)] = True
    return labels(rng, n, discordant, rng.random(n) < 0.5)


def regressors(rng: np.random.Generator, n: int, noise: str) -> Any:
    """A target with Gaussian (variance 3) or t(df) noise ("t3", "t2.5", "t4") and two
    regressors of known RMSE (`true_rmse`)."""
    if noise.startswith("t"):
        shared = rng.standard_t(float(noise[1:]), n)
    else:
        shared = rng.normal(0, math.sqrt(T3_VARIANCE), n)
    signal = rng.normal(0, 1, n)
    y = signal + shared
    sd = PREDICTION_SD
    return y, signal + rng.normal(0, sd["challenger"], n), signal + rng.normal(0, sd["champion"], n)


TRUE_RMSE = {"challenger": math.sqrt(T3_VARIANCE + 0.25), "champion": math.sqrt(T3_VARIANCE + 0.36)}
TRUE_GAIN = TRUE_RMSE["champion"] - TRUE_RMSE["challenger"]  # scorer units: -rmse


def true_rmse(noise: str) -> float:
    """The challenger's true RMSE under this noise (t(df) has variance df / (df - 2))."""
    return math.sqrt(noise_variance(noise) + PREDICTION_SD["challenger"] ** 2)


PREDICTION_SD = {"challenger": 0.5, "champion": 0.6}  # `regressors`' prediction noise


def noise_variance(noise: str) -> float:
    df = float(noise[1:]) if noise.startswith("t") else math.inf
    return T3_VARIANCE if math.isinf(df) else df / (df - 2)


def true_mae(noise: str, sd: float) -> float:
    """E|e + sd Z|, the MAE of a `regressors` model of prediction noise sd Z (Z standard
    normal) on target noise e. Given e it is the folded normal's mean, sd sqrt(2/pi)
    exp(-e^2 / 2 sd^2) + e (1 - 2 Phi(-e / sd)), integrated over e's density (adaptive
    quadrature, error below 1e-12); for Gaussian noise e + sd Z is normal (closed form)."""
    if not noise.startswith("t"):
        return math.sqrt((noise_variance(noise) + sd**2) * 2 / math.pi)

    def given(e: float) -> float:
        z = e / sd
        folded = sd * math.sqrt(2 / math.pi) * math.exp(-z * z / 2) + e * (1 - 2 * norm.cdf(-z))
        return float(folded * student_t.pdf(e, float(noise[1:])))

    half, _ = quad(given, 0, math.inf, epsabs=1e-13, epsrel=1e-12, limit=500)
    return 2 * half  # e is symmetric, and so is the integrand


def moment_truth(metric: str, noise: str) -> tuple[float, float]:
    """The challenger's true loss (RMSE or MAE) and the true gain, champion's loss minus the
    challenger's (both positive: scorer units are their negatives, the gain as it is)."""
    if metric == MAE:
        own, other = (true_mae(noise, PREDICTION_SD[m]) for m in ("challenger", "champion"))
    else:
        own, other = (
            math.sqrt(noise_variance(noise) + PREDICTION_SD[m] ** 2)
            for m in ("challenger", "champion")
        )
    return own, other - own


# -- one trial through ci-ml's own bootstrap and gate -----------------------------------------


def gate_once(
    rules: list[dict[str, Any]],
    metric: str,
    data: Any,
    seed: int,
    floor: bool,
    raw: bool = False,
    bootstrap: str = "percentile",
) -> Any:
    """The decision, and the bootstrap result, on one simulated eval set; `raw` judges
    on the plain resamples (the percentile bootstrap ci-ml used before studentizing);
    `bootstrap: poisson` runs the local engine's Poisson bootstrap instead."""
    decision, result, _ = gate_once_values(rules, metric, data, seed, floor, raw, bootstrap)
    return decision, result


def gate_once_values(
    rules: list[dict[str, Any]],
    metric: str,
    data: Any,
    seed: int,
    floor: bool,
    raw: bool = False,
    bootstrap: str = "percentile",
) -> Any:
    """`gate_once`, and the resampled values the gate tested, (2, B) with a champion."""
    y, challenger, champion = data
    if bootstrap == "poisson":
        result, tested = poisson_once(metric, data, seed)
        values = [tested]
    else:
        results, values = paired_bootstrap_values(
            [metric], y, challenger, champion, n_resamples=RESAMPLES, seed=seed
        )
        result = results[0]
    if raw:
        models = [as_predictions(challenger), as_predictions(champion)]
        values, _ = resampled_values(
            [resolve_metric(metric)], np.asarray(y), models, RESAMPLES, seed
        )
    discordant = _discordant(y, challenger, champion) if floor else None
    evidence = evidence_of(result, values[0], len(y), discordant)
    return decide(parse_rules(rules), evidence), result, values[0]


def evidence_of(
    result: Any, tested: np.ndarray, n_rows: int, discordant: tuple[int, int] | None = None
) -> Evidence:
    """What `ci-ml gate` reads: the metric's entry and the values its rules test."""
    entry = {
        "challenger": result.challenger,
        "champion": result.champion,
        "display_name": result.display_name,
        "lower_is_better": not result.greater_is_better,
        "tail_index": result.tail_index,
        "upper_bound_method": result.upper_bound_method,
    }
    return Evidence(
        {result.metric: entry},
        has_champion=True,
        primary=result.metric,
        resampled={result.metric: tested},
        n_rows=n_rows,
        min_rows=30,
        discordant=discordant,
    )


class StoredPredictions(RegressorMixin, BaseEstimator):
    """A regressor whose predictions are a column of the eval rows."""

    def __init__(self, column: str = "") -> None:
        self.column = column

    def predict(self, x: Any) -> Any:
        return x[self.column].to_numpy()


def poisson_once(metric: str, data: Any, seed: int) -> tuple[Any, np.ndarray]:
    """The Poisson bootstrap of the local engine (`evaluation.bootstrap: poisson`) on one
    simulated regression eval set: its result and the resampled values the gate tests."""
    y, challenger, champion = data
    frame = pd.DataFrame(
        {"challenger": challenger, "champion": champion, "y": y, "id": np.arange(len(y))}
    )
    request = EvaluationRequest(
        "y",
        ("challenger", "champion"),
        (metric,),
        "regression",
        resamples=RESAMPLES,
        seed=seed,
        row_key=("id",),
        model_features=(("challenger",), ("champion",)),
    )
    models = [StoredPredictions("challenger"), StoredPredictions("champion")]
    outcome = LocalEngine().evaluate_frame(frame, request, models)
    return outcome.results[0], outcome.resampled[metric]


def _discordant(y: Any, challenger: Any, champion: Any) -> tuple[int, int]:
    counts = mcnemar_exact(y, champion, challenger)
    return counts.only_champion_right, counts.only_challenger_right


def promoted(decision: Decision) -> bool:
    return decision.verdict == "promote"


def rate(trials: int, seed: Any, once: Callable[[np.random.Generator, int], bool]) -> Rate:
    rng = np.random.default_rng(seed)
    return Rate(sum(once(rng, t) for t in range(trials)), trials)


# -- the cases ---------------------------------------------------------------------------------

GAIN_RULE = [{"metric": "accuracy", "min_delta": 0.0, "confidence": LEVEL}]


def false_promotion(n: int, share: float, trials: int, floor: bool) -> Rate:
    def once(rng: np.random.Generator, t: int) -> bool:
        data = equal_classifiers(rng, n, share)
        return promoted(gate_once(GAIN_RULE, "accuracy", data, t, floor)[0])

    return rate(trials, n, once)


def false_promotions(n: int, share: float, trials: int) -> tuple[Rate, Rate]:
    """`false_promotion` without and with the exact floor from one bootstrap per trial: the
    same verdicts with the same seeds, at half the cost."""
    tally = np.zeros(2, dtype=int)
    rng = np.random.default_rng(n)
    for t in range(trials):
        data = equal_classifiers(rng, n, share)
        decision, result, tested = gate_once_values(GAIN_RULE, "accuracy", data, t, False)
        evidence = evidence_of(result, tested, len(data[0]), _discordant(*data))
        tally += [promoted(decision), promoted(decide(parse_rules(GAIN_RULE), evidence))]
    return Rate(int(tally[0]), trials), Rate(int(tally[1]), trials)


def false_promotion_at(count: int, trials: int, floor: bool, n: int = 100) -> Rate:
    def once(rng: np.random.Generator, t: int) -> bool:
        data = fixed_discordant(rng, n, count)
        return promoted(gate_once(GAIN_RULE, "accuracy", data, t, floor)[0])

    return rate(trials, count, once)


def power(n: int, share: float, gain: float, trials: int, floor: bool) -> Rate:
    def once(rng: np.random.Generator, t: int) -> bool:
        data = equal_classifiers(rng, n, share, gain)
        return promoted(gate_once(GAIN_RULE, "accuracy", data, t, floor)[0])

    return rate(trials, n + 1, once)


def non_inferiority(
    n: int, share: float, margin: float, trials: int, floor: bool, gain: float | None = None
) -> Rate:
    """`max_regression: margin` when the challenger is worse by exactly the margin: should
    pass at most 5% (before issue #16's follow-up the bootstrap alone judged it); with
    `gain`, the challenger's true change instead (its power, e.g. at 0)."""
    return margin_rule("max_regression", n, share, margin, trials, floor, gain)


def margin_rule(
    kind: str,
    n: int,
    share: float,
    margin: float,
    trials: int,
    floor: bool,
    gain: float | None = None,
) -> Rate:
    """How often `{kind: margin}` on accuracy passes when the true change is `gain` (by
    default the rule's own bound: -margin for `max_regression`, +margin for `min_delta`)."""
    rule = [{"metric": "accuracy", kind: margin, "confidence": LEVEL}]
    bound = -margin if kind == "max_regression" else margin
    truth = bound if gain is None else gain

    def once(rng: np.random.Generator, t: int) -> bool:
        data = equal_classifiers(rng, n, share, truth)
        return promoted(gate_once(rule, "accuracy", data, t, floor)[0])

    seed = n + 5 if kind == "max_regression" and gain is None else [*_seed(n, truth), 5]
    return rate(trials, seed, once)


def accuracy_coverage(n: int, share: float, trials: int, gain: float = 0.0) -> Rate:
    """How often the reported 95% interval of the accuracy change (metrics.json `interval`:
    the hull of the percentile and the exact conditional one) covers the true change."""
    return accuracy_intervals(n, share, trials, gain)[1]


def accuracy_intervals(n: int, share: float, trials: int, gain: float = 0.0) -> tuple[Any, ...]:
    """Coverage of the true change by the percentile interval alone (before) and by the
    reported one (after), how often the rule's own interval and its verdict disagree (the
    two-sided interval wholly above 0 beside a failed rule, or wholly below beside a passed
    one; the rule is `min_delta: 0` at 95%), how many eval sets had at most 2 discordant
    rows, and the median width of the reported interval over the percentile one's."""
    tally = np.zeros(5, dtype=int)
    widths = []
    rng = np.random.default_rng(n + 2 if gain == 0 else _seed(n, gain))
    for t in range(trials):
        data = equal_classifiers(rng, n, share, gain)
        decision, result, values = gate_once_values(GAIN_RULE, "accuracy", data, t, True)
        tally += [*_interval_checks(decision, result, values, gain), sum(_discordant(*data)) <= 2]
        widths.append(_width_ratio(result, values))
    return (*(Rate(int(hits), trials) for hits in tally), float(np.nanmedian(widths)))


def _seed(n: int, gain: float) -> list[int]:
    """A seed per eval size and true change (non-negative entries, as numpy needs)."""
    return [n, round(gain * 1000)] if gain >= 0 else [n, round(-gain * 1000), 1]


def _width_ratio(result: Any, values: np.ndarray) -> float:
    """The reported interval's width over the percentile interval's (NaN when that is 0)."""
    before = percentile_interval(values[0] - values[1], LEVEL)
    width = (before.high or 0.0) - (before.low or 0.0)
    reported = result.delta_interval
    return (reported.high - reported.low) / width if width > 0 else math.nan


def _interval_checks(decision: Decision, result: Any, values: np.ndarray, gain: float) -> Any:
    before = percentile_interval(values[0] - values[1], LEVEL)
    rule = decision.rules[0]
    was = _contradicts(before.low or 0.0, before.high or 0.0, bool(rule.passed))
    now = _contradicts(*(rule.interval or (0.0, 0.0)), bool(rule.passed))
    return np.array([before.contains(gain), result.delta_interval.contains(gain), was, now])


def _contradicts(low: float, high: float, passed: bool) -> bool:
    """A 95% interval wholly above 0 beside a failed `min_delta: 0` rule, or the reverse."""
    return (low > 0 and not passed) or (high < 0 and passed)


RMSE = "neg_root_mean_squared_error"


def rmse_coverage(
    n: int, noise: str, trials: int, which: str, bootstrap: str = "percentile"
) -> Rate:
    """How often the 95% interval (own, or of the change) covers the true value."""

    def once(rng: np.random.Generator, t: int) -> bool:
        data = regressors(rng, n, noise)
        _, result = gate_once(GAIN_RULE_RMSE, RMSE, data, t, False, bootstrap=bootstrap)
        if which == "own":
            return bool(result.challenger_interval.contains(-TRUE_RMSE["challenger"]))
        return bool(result.delta_interval.contains(TRUE_GAIN))

    return rate(trials, n + 3, once)


GAIN_RULE_RMSE = [{"metric": RMSE, "min_delta": TRUE_GAIN, "confidence": LEVEL}]
BOUND_RULE_RMSE = [{"metric": RMSE, "max": TRUE_RMSE["challenger"], "confidence": LEVEL}]


def rmse_false_pass(
    n: int,
    noise: str,
    trials: int,
    rules: list[dict[str, Any]],
    raw: bool = False,
    bootstrap: str = "percentile",
) -> Rate:
    """A rule whose bound is the truth must pass at most 5% of the time."""

    def once(rng: np.random.Generator, t: int) -> bool:
        data = regressors(rng, n, noise)
        return promoted(gate_once(rules, RMSE, data, t, False, raw, bootstrap)[0])

    return rate(trials, n + 4, once)


OWN_RMSE_COLUMNS = ("covers", "upper end below the truth", "lower end above it", "max", "switch")


def own_rmse_rates(n: int, noise: str, trials: int) -> dict[str, Rate]:
    """From one bootstrap per simulated eval set: how often the challenger's own 95% RMSE
    interval covers the truth, on which side it misses, how often `max: <true RMSE>`
    passes (at most 5%), and how often the tail switch fired."""
    rng, truth = np.random.default_rng(n + 3), true_rmse(noise)
    rules = [{"metric": RMSE, "max": truth, "confidence": LEVEL}]
    hits = np.zeros(len(OWN_RMSE_COLUMNS), dtype=int)
    for t in range(trials):
        decision, result = gate_once(rules, RMSE, regressors(rng, n, noise), t, False)
        low, high = -result.challenger_interval.high, -result.challenger_interval.low
        fired = result.upper_bound_method == TAIL_EXTRAPOLATED
        hits += [low <= truth <= high, high < truth, low > truth, promoted(decision), fired]
    return {c: Rate(int(h), trials) for c, h in zip(OWN_RMSE_COLUMNS, hits, strict=True)}


MAE = "neg_mean_absolute_error"
MOMENT_COLUMNS = ("own", "change interval", "max", "min_delta", "own switch", "change switch")


def moment_rates(metric: str, n: int, noise: str, trials: int) -> dict[str, Rate]:
    """From one bootstrap per simulated eval set (`regressors`, seed [n, 7]): how often the
    challenger's own and the change's 95% intervals cover the truth (`moment_truth`), how
    often `max: <true loss>` and `min_delta: <true gain>` pass (each alone; at most 5%), and
    how often the tail switch fired on the challenger's losses (its own upper bound) and on
    either model's (the change: SYMMETRIC_STUDENTIZED)."""
    own_truth, gain = moment_truth(metric, noise)
    rules = (
        [{"metric": metric, "max": own_truth, "confidence": LEVEL}],
        [{"metric": metric, "min_delta": gain, "confidence": LEVEL}],
    )
    rng = np.random.default_rng([n, 7])
    hits = np.zeros(len(MOMENT_COLUMNS), dtype=int)
    for t in range(trials):
        data = regressors(rng, n, noise)
        _, result, tested = gate_once_values(rules[0], metric, data, t, False)
        evidence = evidence_of(result, tested, n)
        hits += [
            result.challenger_interval.contains(-own_truth),
            result.delta_interval.contains(gain),
            *(promoted(decide(parse_rules(r), evidence)) for r in rules),
            result.upper_bound_method == TAIL_EXTRAPOLATED,
            result.delta_interval_method == SYMMETRIC_STUDENTIZED,
        ]
    return {c: Rate(int(h), trials) for c, h in zip(MOMENT_COLUMNS, hits, strict=True)}


LOG_LOSS = "neg_log_loss"
LOGIT_SD = 1.5  # the true log-odds of the positive class are N(0, LOGIT_SD^2)
OVERCONFIDENT = 1.3  # the overconfident classifier's log-odds are the true ones times this


def classifier(logits: np.ndarray, scale: float) -> Predictions:
    """A binary classifier whose log-odds are `scale` times the true ones (1: calibrated)."""
    positive = 1 / (1 + np.exp(-scale * logits))
    proba = np.column_stack([1 - positive, positive])
    return Predictions(
        predict=(positive > 0.5).astype(int), predict_proba=proba, classes=np.array([0, 1])
    )


def classifiers(rng: np.random.Generator, n: int, challenger: float, champion: float) -> Any:
    """Labels drawn from the true probabilities, and two classifiers of those log-odds scales."""
    logits = rng.normal(0, LOGIT_SD, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    return y, classifier(logits, challenger), classifier(logits, champion)


def true_log_loss(scale: float) -> float:
    """The expected log loss of the classifier of log-odds scale `scale` (Gauss-Hermite)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(200)
    logits = LOGIT_SD * nodes
    positive = 1 / (1 + np.exp(-logits))
    # log q = -log(1 + e^{-s z}), log(1 - q) = -log(1 + e^{s z})
    loss = positive * np.logaddexp(0, -scale * logits) + (1 - positive) * np.logaddexp(
        0, scale * logits
    )
    return float(weights @ loss / math.sqrt(2 * math.pi))


TRUE_LOG_LOSS = {"calibrated": true_log_loss(1.0), "overconfident": true_log_loss(OVERCONFIDENT)}
SCALES = {"calibrated": 1.0, "overconfident": OVERCONFIDENT}


def log_loss_rules(challenger: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rules whose bound is the truth (each should pass at most 5% of the time): `max:` the
    challenger's true log loss, and the true change against the other kind of classifier
    (`min_delta` for the calibrated challenger, `max_regression` for the overconfident)."""
    other = "calibrated" if challenger == "overconfident" else "overconfident"
    gain = TRUE_LOG_LOSS[other] - TRUE_LOG_LOSS[challenger]
    own = [{"metric": LOG_LOSS, "max": TRUE_LOG_LOSS[challenger], "confidence": LEVEL}]
    kind = "min_delta" if gain > 0 else "max_regression"
    return own, [{"metric": LOG_LOSS, kind: abs(gain), "confidence": LEVEL}]


def log_loss_rates(n: int, trials: int, challenger: str) -> dict[str, Rate]:
    """The challenger against the other kind: false passes of both rules, coverage of its
    own and of the change's 95% interval, and how often the tail switch fired."""
    other = "calibrated" if challenger == "overconfident" else "overconfident"
    truth = -TRUE_LOG_LOSS[challenger], TRUE_LOG_LOSS[other] - TRUE_LOG_LOSS[challenger]
    own_rule, change_rule = log_loss_rules(challenger)
    tally = np.zeros(5, dtype=int)
    rng = np.random.default_rng([n, len(challenger)])
    for t in range(trials):
        data = classifiers(rng, n, SCALES[challenger], SCALES[other])
        # one bootstrap for both rules: the verdicts of two bootstraps with the same seed
        own, result, tested = gate_once_values(own_rule, LOG_LOSS, data, t, False)
        change = decide(parse_rules(change_rule), evidence_of(result, tested, n))
        tally += [
            promoted(own),
            promoted(change),
            result.challenger_interval.contains(truth[0]),
            result.delta_interval.contains(truth[1]),
            result.upper_bound_method == TAIL_EXTRAPOLATED,
        ]
    names = ("max", "change", "own", "change interval", "switch")
    return {name: Rate(int(hits), trials) for name, hits in zip(names, tally, strict=True)}


# -- tables ------------------------------------------------------------------------------------

SIZES = (100, 1000, 10000)


TRIALS = {100: 1000, 1000: 400, 10000: 100}  # the full run's; --trials overrides
NOISES = ["gaussian", "t3"]  # of the moment table; --noise picks one


def trials_at(n: int, quick: bool) -> int:
    return {100: 200, 1000: 100, 10000: 20}[n] if quick else TRIALS[n]


def gate_tables(quick: bool, only: tuple[str, ...] = ()) -> str:
    tables = {
        "false-promotion": _false_promotion_table,
        "discordant": _discordant_table,
        "power": _power_table,
        "coverage": _coverage_table,
        "non-inferiority": _non_inferiority_table,
        "moment": _moment_table,
        "log-loss": _log_loss_table,
        "poisson-moment": _poisson_moment_table,
        "own-rmse": _own_rmse_table,
        "mae": _mae_table,
    }
    return "\n\n".join(table(quick) for name, table in tables.items() if name in (only or tables))


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _false_promotion_table(quick: bool) -> str:
    rows = []
    for n, share in ((100, 0.05), (100, 0.3), (1000, 0.3), (10000, 0.3)):
        trials = trials_at(n, quick)
        before, after = false_promotions(n, share, trials)
        rows.append([f"{n:,}", f"{share:.0%}", str(trials), before.cell(), after.cell()])
    title = (
        "### False promotion: `{metric: accuracy, min_delta: 0, confidence: 0.95}`, "
        "equally good models (nominal 5%)\n\n"
    )
    header = ["eval rows", "rows the models disagree on", "trials", "before", "after"]
    return title + _table(header, rows)


def _discordant_table(quick: bool) -> str:
    trials = 100 if quick else TRIALS[100] * 2 // 5
    rows = []
    for count in (3, 4, 5, 7, 10, 20):
        before = false_promotion_at(count, trials, floor=False)
        after = false_promotion_at(count, trials, floor=True)
        rows.append([str(count), str(trials), before.cell(), after.cell()])
    title = (
        "### False promotion by number of discordant rows (100 eval rows, same rule; the "
        "exact one-sided McNemar test is at most 5% at every count)\n\n"
    )
    return title + _table(["discordant rows", "trials", "before", "after"], rows)


def _power_table(quick: bool) -> str:
    rows = []
    for n, gain in ((1000, 0.03), (1000, 0.05), (10000, 0.01)):
        trials = trials_at(n, quick)
        before = power(n, 0.3, gain, trials, floor=False)
        after = power(n, 0.3, gain, trials, floor=True)
        rows.append([f"{n:,}", f"+{gain:.0%}", str(trials), before.cell(), after.cell()])
    title = "### Power: the same rule when the challenger is truly better (30% disagreement)\n\n"
    return title + _table(["eval rows", "true gain", "trials", "before", "after"], rows)


COVERAGE_CASES = (
    (100, 0.01, 0.0),
    (100, 0.01, 0.01),  # about 1 discordant row, each favouring the challenger
    (100, 0.03, 0.03),
    (100, 0.03, 0.0),
    (100, 0.05, 0.0),
    (100, 0.10, 0.0),
    (100, 0.30, 0.0),
    (100, 0.10, 0.04),
    (1000, 0.002, 0.002),
    (1000, 0.01, -0.01),
    (1000, 0.05, 0.0),
    (1000, 0.30, 0.0),
    (10000, 0.30, 0.0),
)


def coverage_row(n: int, share: float, gain: float, trials: int) -> list[str]:
    *rates, few, width = accuracy_intervals(n, share, trials, gain)
    cells = [f"{n:,}", f"{share:.1%}", f"{gain:+.1%}", str(trials), few.cell()]
    return [*cells, *(r.cell() for r in rates), f"{width:.2f}"]


def _coverage_table(quick: bool) -> str:
    rows = []
    for n, share, gain in COVERAGE_CASES:
        rows.append(coverage_row(n, share, gain, trials_at(n, quick) * (2 if n == 100 else 1)))
    title = (
        "### Coverage of the 95% interval of the accuracy change; before: the percentile "
        "bootstrap, after: its hull with the exact interval (metrics.json `interval`); how "
        "often the rule's interval contradicts its verdict; and the reported interval's "
        "median width over the percentile one's\n\n"
    )
    header = ["eval rows", "disagreement", "true change", "trials", "sets with D <= 2"]
    header += ["covers, before", "after", "contradicts the verdict, before", "after"]
    return title + _table([*header, "width / percentile"], rows)


NON_INFERIORITY_CASES = (
    ("max_regression", 100, 0.01, 0.01),  # the challenger loses every discordant row
    ("max_regression", 100, 0.03, 0.03),
    ("max_regression", 100, 0.10, 0.03),
    ("max_regression", 1000, 0.005, 0.005),
    ("max_regression", 1000, 0.10, 0.02),
    ("min_delta", 100, 0.03, 0.03),  # the challenger wins every discordant row
    ("min_delta", 100, 0.10, 0.03),
)


def margin_row(kind: str, n: int, share: float, margin: float, trials: int) -> list[str]:
    """False passes at the rule's bound (bootstrap alone, floored) and the floored rule's
    power when the models are truly equal (`max_regression`) or the gain is 2 margins."""
    before = margin_rule(kind, n, share, margin, trials, floor=False)
    after = margin_rule(kind, n, share, margin, trials, floor=True)
    gain = 0.0 if kind == "max_regression" else 2 * margin
    power = "–"  # no gain of 2 margins when the discordant rows are fewer
    if gain <= share:
        rule = margin_rule(kind, n, share, margin, trials, floor=True, gain=gain)
        power = f"{gain:+.1%}: {rule.cell()}"
    cells = [f"`{kind}: {margin:g}`", f"{n:,}", f"{share:.1%}", str(trials)]
    return [*cells, before.cell(), after.cell(), power]


def _non_inferiority_table(quick: bool) -> str:
    rows = [
        margin_row(kind, n, share, margin, trials_at(n, quick))
        for kind, n, share, margin in NON_INFERIORITY_CASES
    ]
    title = (
        "### Margins on accuracy: `max_regression: m` when the challenger is worse by exactly "
        "m, `min_delta: m` when it is better by exactly m (should pass at most 5%); before: "
        "the bootstrap alone, after: floored by the exact test of the margin; and the "
        "floored rule's power at a true change\n\n"
    )
    header = ["rule", "eval rows", "disagreement", "trials", "passes, before", "after"]
    return title + _table([*header, "power at true change"], rows)


def _moment_table(quick: bool) -> str:
    rows = []
    for noise in NOISES:
        for n in SIZES:
            trials = trials_at(n, quick)
            rows.append(
                [
                    noise,
                    f"{n:,}",
                    str(trials),
                    rmse_coverage(n, noise, trials, "own").cell(),
                    rmse_coverage(n, noise, trials, "change").cell(),
                    rmse_false_pass(n, noise, trials, BOUND_RULE_RMSE, raw=True).cell(),
                    rmse_false_pass(n, noise, trials, BOUND_RULE_RMSE).cell(),
                    rmse_false_pass(n, noise, trials, GAIN_RULE_RMSE, raw=True).cell(),
                    rmse_false_pass(n, noise, trials, GAIN_RULE_RMSE).cell(),
                ]
            )
    title = (
        "### RMSE: coverage of the 95% intervals (studentized; the own upper end also "
        "tail-extrapolated for heavy-tailed losses), and rules whose bound is the truth "
        "(should pass at most 5%; before = percentile bootstrap)\n\n"
    )
    header = [
        "noise",
        "eval rows",
        "trials",
        "own interval",
        "change interval",
        "`max: <true RMSE>` passes, before",
        "after",
        "`min_delta: <true gain>` passes, before",
        "after",
    ]
    return title + _table(header, rows)


def log_loss_row(challenger: str, n: int, trials: int) -> list[str]:
    rates = log_loss_rates(n, trials, challenger)
    kind = "min_delta" if challenger == "calibrated" else "max_regression"
    cells = [challenger, f"{n:,}", str(trials), kind]
    return [*cells, *(rates[k].cell() for k in LOG_LOSS_COLUMNS)]


def _log_loss_table(quick: bool) -> str:
    rows = []
    for challenger in ("calibrated", "overconfident"):
        rows += [log_loss_row(challenger, n, trials_at(n, quick)) for n in (100, 1000)]
    title = (
        "### Log loss: a calibrated and a slightly overconfident binary classifier (log-odds "
        f"x{OVERCONFIDENT}; true log loss {TRUE_LOG_LOSS['calibrated']:.4f} and "
        f"{TRUE_LOG_LOSS['overconfident']:.4f}), rules whose bound is the truth (should pass "
        "at most 5%), the 95% intervals' coverage and how often the tail switch fired\n\n"
    )
    header = ["challenger", "eval rows", "trials", "change rule", "`max: <true log loss>` passes"]
    header += ["change rule at the true change passes", "own interval", "change interval"]
    return title + _table([*header, "switch fired"], rows)


LOG_LOSS_COLUMNS = ("max", "change", "own", "change interval", "switch")


POISSON_SIZES = [100, 1000, 10000]  # of the Poisson moment table; --sizes picks


def poisson_rmse_rates(n: int, noise: str, trials: int) -> list[Rate]:
    """Under the Poisson bootstrap, from one bootstrap per simulated eval set: how often
    the own and the change 95% intervals cover the truth, and how often the `max:` and
    `min_delta:` rules whose bound is the truth pass."""
    rng = np.random.default_rng(n + 5)
    hits = np.zeros(4, dtype=int)
    for t in range(trials):
        data = regressors(rng, n, noise)
        result, tested = poisson_once(RMSE, data, t)
        evidence = evidence_of(result, tested, n)
        rules = (BOUND_RULE_RMSE, GAIN_RULE_RMSE)
        passes = [promoted(decide(parse_rules(r), evidence)) for r in rules]
        hits += [
            result.challenger_interval.contains(-TRUE_RMSE["challenger"]),
            result.delta_interval.contains(TRUE_GAIN),
            *passes,
        ]
    return [Rate(int(h), trials) for h in hits]


def _poisson_moment_table(quick: bool) -> str:
    rows = []
    for noise in NOISES:
        for n in POISSON_SIZES:
            trials = trials_at(n, quick)
            cells = poisson_rmse_rates(n, noise, trials)
            rows.append([noise, f"{n:,}", str(trials), *(c.cell() for c in cells)])
    title = (
        "### RMSE under the Poisson bootstrap (`evaluation.bootstrap: poisson`, `engine: "
        "spark`): coverage of the 95% intervals and rules whose bound is the truth "
        "(should pass at most 5%)\n\n"
    )
    header = [
        "noise",
        "eval rows",
        "trials",
        "own interval",
        "change interval",
        "`max: <true RMSE>` passes",
        "`min_delta: <true gain>` passes",
    ]
    return title + _table(header, rows)


def mae_row(noise: str, n: int, trials: int) -> list[str]:
    rates = moment_rates(MAE, n, noise, trials)
    return [noise, f"{n:,}", str(trials), *(rates[c].cell() for c in MOMENT_COLUMNS)]


def _mae_table(quick: bool) -> str:
    cases = [(noise, n, trials_at(n, quick)) for noise in NOISES for n in SIZES]
    rows = [mae_row(*case) for case in cases if case[2]]
    truths = ", ".join(
        f"{noise} {moment_truth(MAE, noise)[0]:.5f} / gain {moment_truth(MAE, noise)[1]:.5f}"
        for noise in NOISES
    )
    title = (
        "### MAE: coverage of the 95% intervals and rules whose bound is the truth (should "
        f"pass at most 5%; true MAE and gain: {truths}), from one bootstrap per eval set, "
        "and how often the tail switch fired (own: the challenger's losses; change: "
        "either model's)\n\n"
    )
    header = ["noise", "eval rows", "trials", "own interval covers", "change interval covers"]
    header += ["`max: <true MAE>` passes", "`min_delta: <true gain>` passes"]
    return title + _table([*header, "own switch fired", "change switch fired"], rows)


def _own_rmse_table(quick: bool) -> str:
    rows = []
    for noise in NOISES:
        for n in SIZES:
            trials = trials_at(n, quick)
            if trials:
                rates = own_rmse_rates(n, noise, trials).values()
                rows.append([noise, f"{n:,}", str(trials), *(r.cell() for r in rates)])
    title = (
        "### RMSE: the challenger's own 95% interval, which end misses the true RMSE, "
        "`max: <true RMSE>` (should pass at most 5%) and the tail switch, from one "
        "bootstrap per eval set\n\n"
    )
    header = ["noise", "eval rows", "trials", "own interval covers", "upper end below the truth"]
    header += ["lower end above it", "`max: <true RMSE>` passes", "tail switch fired"]
    return title + _table(header, rows)


# -- the document ------------------------------------------------------------------------------


def drift_tables(quick: bool) -> str | None:
    """benchmarks/statistics_drift.py's tables, when that module is present."""
    path = Path(__file__).with_name("statistics_drift.py")
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("statistics_drift", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    tables: str = module.tables(quick)
    return tables


def commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


MARKER = "<!-- generated below by benchmarks/calibration.py; edit the text above only -->"


def document(quick: bool, intro: str) -> str:
    """The prose above MARKER kept, every table below it regenerated."""
    command = "python benchmarks/calibration.py" + (" --quick" if quick else "")
    stamp = f"Generated by `{command}` at commit `{commit()}`."
    parts = [intro.split(MARKER)[0].rstrip(), MARKER, stamp, "## Gate", gate_tables(quick)]
    drift = drift_tables(quick)
    if drift is not None:
        parts += ["## Drift", drift]
    return "\n\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials (about 5x faster)")
    parser.add_argument("--write", type=Path, help="write the document here (docs/statistics.md)")
    parser.add_argument(
        "--only",
        help="gate tables only, these (comma-separated): "
        "false-promotion, discordant, power, coverage, non-inferiority, moment, log-loss, "
        "poisson-moment, own-rmse, mae",
    )
    parser.add_argument("--trials", help="trials per eval size, e.g. 100=400,1000=150,10000=30")
    parser.add_argument(
        "--noise",
        choices=[*NOISES, "t2.5", "t4"],
        help="the moment tables for this noise only (t2.5 and t4: own-rmse only)",
    )
    parser.add_argument("--sizes", help="eval sizes of the poisson-moment table, e.g. 100,1000")
    args = parser.parse_args()
    if args.noise:
        NOISES[:] = [args.noise]
    if args.sizes:
        POISSON_SIZES[:] = [int(n) for n in args.sizes.split(",")]
    if args.trials:
        TRIALS.update({int(k): int(v) for k, v in (p.split("=") for p in args.trials.split(","))})
    if args.only:
        print(gate_tables(args.quick, tuple(args.only.split(","))))
        return
    doc = ROOT / "docs" / "statistics.md"
    intro = doc.read_text() if doc.is_file() else "# Statistics\n"
    text = document(args.quick, intro)
    if args.write:
        args.write.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
