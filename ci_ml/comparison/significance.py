"""Significance for the gate and drift: one-sided bootstrap and exact tests,
the one multiple-testing `adjust()`, power, and the minimum rows to judge at all.

Why an exact floor: a bootstrap of accuracy on D discordant rows, all favouring
the challenger, gives a p-value near e^-D (0.05 at D = 3), where the exact
one-sided McNemar test gives 2^-D (0.125). For accuracy the gate therefore
uses the larger of the bootstrap and the exact p-value (`exact_floor`): the
bootstrap where disagreements are many, never less than the exact test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

HOLM, BONFERRONI, BENJAMINI_HOCHBERG, NO_ADJUSTMENT = "holm", "bonferroni", "bh", "none"
METHODS = (HOLM, BONFERRONI, BENJAMINI_HOCHBERG, NO_ADJUSTMENT)
Claim = Literal["above", "below"]  # the rule claims the true value is above / below a bound
POWER = 0.8  # the power at which a "smallest detectable change" is quoted
# Hill's tail index of a moment metric's per-row losses below which a model's own upper bound
# also takes Peng's tail-extrapolated mean (`studentized`): the losses' variance is infinite
# below 2; the margin to 2.5 is Hill's noise on 10 losses (standard error about 1/(index
# sqrt(k)) on the inverse scale, 0.2 for squared t(3) errors at 100 rows).
HEAVY_TAIL_INDEX = 2.5
STUDENTIZED = "studentized"
TAIL_EXTRAPOLATED = "studentized and Peng tail-extrapolated"
# the change of a moment metric when either model's losses are heavy-tailed
SYMMETRIC_STUDENTIZED = "symmetric studentized on the mean losses' difference"
# The share of a change test's level spent on the nuisance, the share of discordant rows
# (Berger and Boos 1994, JASA 89, and Berger and Sidik 2003 for matched pairs use 0.001):
# what makes the accuracy change's test and interval valid whatever the number of them.
NUISANCE_LEVEL = 0.001
# Below this many discordant rows the change's exact test and bound also bound their share
# (NUISANCE_LEVEL); from it on they take the observed D / n, and the bootstrap beside them,
# asymptotically valid there, carries the unconditional coverage. The bound over both is
# 1 + z / sqrt(D) times too wide at D rows (2x at 10, 1.4x at 50); 25 is the usual count
# from which McNemar's normal approximation is trusted.
FEW_DISCORDANT = 25


def clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN and infinities to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on the rows where exactly one model is right."""

    n_rows: int
    both_right: int
    only_champion_right: int
    only_challenger_right: int
    both_wrong: int
    p_value: float
    p_value_challenger_better: float

    def to_dict(self) -> dict[str, Any]:
        return {k: clean(v) for k, v in asdict(self).items()}


def mcnemar_counts(only_champion_right: int, only_challenger_right: int) -> tuple[float, float]:
    """Two-sided and one-sided ("challenger better") exact p-values.

    Under the null each discordant row is equally likely to favour either model,
    so the challenger's share of them is Binomial(b + c, 1/2).
    """
    from scipy.stats import binom

    b, c = only_champion_right, only_challenger_right
    n = b + c
    if n == 0:
        return 1.0, 1.0
    two_sided = min(1.0, 2.0 * float(binom.cdf(min(b, c), n, 0.5)))
    return two_sided, float(binom.sf(c - 1, n, 0.5))


def mcnemar_exact(y_true: Any, champion: Any, challenger: Any) -> McNemarResult:
    """McNemar from predicted labels; the correctness of each row is all it uses."""
    y = np.asarray(y_true)
    right_a, right_b = np.asarray(champion) == y, np.asarray(challenger) == y
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    two_sided, one_sided = mcnemar_counts(only_a, only_b)
    return McNemarResult(
        n_rows=len(y),
        both_right=int(np.sum(right_a & right_b)),
        only_champion_right=only_a,
        only_challenger_right=only_b,
        both_wrong=int(np.sum(~right_a & ~right_b)),
        p_value=two_sided,
        p_value_challenger_better=one_sided,
    )


def bootstrap_p_value(samples: np.ndarray, bound: float, claim: Claim) -> float:
    """One-sided bootstrap p-value of "the claim is false": the share of resamples on
    the wrong side of (or at) the bound, with the +1 correction so it is never 0."""
    wrong = samples <= bound if claim == "above" else samples >= bound
    return (int(np.count_nonzero(wrong)) + 1) / (len(samples) + 1)


def one_sided_bound(samples: np.ndarray, level: float, claim: Claim) -> float:
    """The level-`level` lower (claim above) or upper (claim below) confidence bound."""
    q = 1 - level if claim == "above" else level
    return float(np.quantile(samples, q))


def exact_accuracy_p(correct: int, n_rows: int, bound: float, claim: Claim) -> float:
    """Exact binomial p-value of "accuracy is not above (below) `bound`"."""
    from scipy.stats import binom

    bound = min(max(bound, 0.0), 1.0)
    if claim == "above":
        return float(binom.sf(correct - 1, n_rows, bound))
    return float(binom.cdf(correct, n_rows, bound))


def exact_accuracy_bound(correct: int, n_rows: int, level: float, claim: Claim) -> float:
    """Clopper-Pearson one-sided bound on accuracy: the inverse of `exact_accuracy_p`."""
    return _clopper_pearson(correct, n_rows, level, claim)


def exact_change_p(only_champion: int, only_challenger: int, n_rows: int, margin: float) -> float:
    """Exact p-value of "the accuracy change is at most `margin`", not only given D.

    The change is pi_d (2 p - 1): pi_d the share of discordant rows, p the challenger's
    share of them. At margin 0 the null fixes p = 1/2 whatever pi_d: the one-sided exact
    McNemar test. Otherwise pi_d is a nuisance. Below FEW_DISCORDANT rows the p-value is
    Berger and Boos's (1994): the largest binomial p-value of the D rows' split over the
    pi_d inside a Clopper-Pearson set of tail NUISANCE_LEVEL that the null allows, plus
    NUISANCE_LEVEL. A regression margin also takes McNemar's if smaller (its null lies
    inside McNemar's), so `max_regression: m` never needs more than `min_delta: 0`; the
    price is a size of at most level + NUISANCE_LEVEL, proved, instead of level. From
    FEW_DISCORDANT rows on, pi_d is taken as D / n (docs/statistics.md)."""
    d, c = only_champion + only_challenger, only_challenger
    mcnemar = _split_p(c, d, 0.5)
    if margin == 0:
        return mcnemar
    if d >= FEW_DISCORDANT:
        return _split_p(c, d, 0.5 + margin * n_rows / (2 * d))
    low, high = discordant_share_bounds(d, n_rows, NUISANCE_LEVEL)
    if margin < 0:
        # the null needs pi_d >= -margin; its largest split share is at the largest pi_d
        if high < -margin:
            return min(mcnemar, NUISANCE_LEVEL)
        nuisance = NUISANCE_LEVEL + _split_p(c, d, 0.5 + margin / (2 * high))
        return min(1.0, mcnemar, nuisance)
    share = 1.0 if low <= margin else 0.5 + margin / (2 * low)  # largest at the least pi_d
    return min(1.0, NUISANCE_LEVEL + _split_p(c, d, share))


def _split_p(challenger: int, discordant: int, share: float) -> float:
    """P(at least `challenger` of `discordant` rows favour the challenger | its share)."""
    from scipy.stats import binom

    if discordant == 0 or share >= 1:
        return 1.0
    if share <= 0:  # below 0 no split is in the null; at 0 only "none for the challenger"
        return 1.0 if share == 0 and challenger <= 0 else 0.0
    return float(binom.sf(challenger - 1, discordant, share))


def discordant_share_bounds(discordant: int, n_rows: int, tail: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds, `tail` on each side, on the share of rows only one
    model gets right: above 0 even when no row is discordant."""
    if n_rows <= 0:
        return 0.0, 1.0
    level = 1 - tail
    return (
        _clopper_pearson(discordant, n_rows, level, "above"),
        _clopper_pearson(discordant, n_rows, level, "below"),
    )


def exact_change_bound(
    only_champion: int, only_challenger: int, n_rows: int, level: float, claim: Claim
) -> float:
    """The one-sided bound `exact_change_p` inverts: below FEW_DISCORDANT rows the least
    change pi_d (2 p - 1) over Clopper-Pearson bounds on p (tail 1 - level -
    NUISANCE_LEVEL) and on pi_d (tail NUISANCE_LEVEL), raised to 0 when McNemar's test
    passes at `level`: it holds whatever pi_d, and with no discordant row it is minus the
    bound on pi_d, not 0. From FEW_DISCORDANT on, (D / n)(2 p - 1) at p's bound. An upper
    bound ("below") is minus the lower bound of the champion's change."""
    if claim == "below":
        return -exact_change_bound(only_challenger, only_champion, n_rows, level, "above")
    alpha = 1 - level
    d = only_champion + only_challenger
    if d >= FEW_DISCORDANT:
        return d / n_rows * (2 * _clopper_pearson(only_challenger, d, level, "above") - 1)
    nuisance = NUISANCE_LEVEL if alpha > 2 * NUISANCE_LEVEL else alpha / 2
    low, high = discordant_share_bounds(d, n_rows, nuisance)
    # with no discordant row the split can be anything: its lower bound is 0
    lean = 2 * _clopper_pearson(only_challenger, d, 1 - alpha + nuisance, "above") - 1
    bound = lean * (high if lean < 0 else low)
    return max(bound, 0.0) if _split_p(only_challenger, d, 0.5) <= alpha else bound


def exact_change_interval(
    only_champion: int, only_challenger: int, n_rows: int, level: float
) -> tuple[float, float]:
    """Two-sided `exact_change_bound`s, (1 - level) / 2 on each side."""
    one_sided = (1 + level) / 2
    low = exact_change_bound(only_champion, only_challenger, n_rows, one_sided, "above")
    high = exact_change_bound(only_champion, only_challenger, n_rows, one_sided, "below")
    return low, high


def _clopper_pearson(successes: int, trials: int, level: float, claim: Claim) -> float:
    """The exact one-sided bound on a binomial proportion (Clopper and Pearson 1934)."""
    from scipy.stats import beta

    if claim == "above":
        return (
            0.0 if successes <= 0 else float(beta.ppf(1 - level, successes, trials - successes + 1))
        )
    return 1.0 if successes >= trials else float(beta.ppf(level, successes + 1, trials - successes))


def hull(interval: tuple[float, float], other: tuple[float, float]) -> tuple[float, float]:
    """The smallest interval holding both."""
    return min(interval[0], other[0]), max(interval[1], other[1])


def exact_floor(bootstrap_p: float, exact_p: float | None) -> float:
    """The p-value a rule on accuracy is judged on: never below the exact test's."""
    return bootstrap_p if exact_p is None else max(bootstrap_p, exact_p)


def detectable_change(samples: np.ndarray, level: float, power: float = POWER) -> float:
    """Smallest true distance from the bound a one-sided test at `level` detects with
    `power`, from the bootstrap spread: (z_level + z_power) * sd."""
    from scipy.stats import norm

    sd = float(np.std(samples, ddof=1)) if len(samples) > 1 else math.inf
    return float((norm.ppf(level) + norm.ppf(power)) * sd)


def rows_needed(n_rows: int, detectable: float, margin: float) -> int | None:
    """Eval rows for which `detectable` shrinks to `margin` (spread ~ 1/sqrt(n))."""
    if margin == 0 or not math.isfinite(detectable):
        return None
    return math.ceil(n_rows * (detectable / abs(margin)) ** 2)


def bonferroni(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    return [min(1.0, p * m) for p in p_values]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(np.argsort(p_values, kind="stable")):
        # the max keeps adjusted p-values monotone in the raw ones
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted p-values (false discovery rate), in the input order."""
    if not p_values:
        return []
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty_like(p)
    result[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in result]


_ADJUSTERS: dict[str, Callable[[Sequence[float]], list[float]]] = {
    HOLM: holm,
    BONFERRONI: bonferroni,
    BENJAMINI_HOCHBERG: benjamini_hochberg,
    NO_ADJUSTMENT: lambda p: [float(v) for v in p],
}


def adjusted_p_values(p_values: Sequence[float], method: str) -> list[float]:
    """The one multiple-testing dispatch: holm, bonferroni, bh (FDR) or none."""
    if method not in _ADJUSTERS:
        raise ValueError(f"unknown adjustment {method!r}; expected one of {METHODS}")
    return _ADJUSTERS[method]([float(p) for p in p_values])


@dataclass(frozen=True)
class Adjustment:
    """Several rules tested together: which still hold after the adjustment."""

    method: str
    alpha: float
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "alpha": self.alpha,
            "p_values": [clean(p) for p in self.p_values],
            "adjusted": [clean(p) for p in self.adjusted],
            "rejected": list(self.rejected),
        }


def adjust(p_values: Sequence[float], alpha: float = 0.05, method: str = "holm") -> Adjustment:
    """Adjust for several rules at once; `rejected[i]` means rule i's null is rejected."""
    raw = [float(p) for p in p_values]
    adjusted = adjusted_p_values(raw, method)
    return Adjustment(
        method, alpha, tuple(raw), tuple(adjusted), tuple(p <= alpha for p in adjusted)
    )


@dataclass(frozen=True)
class RowsCheck:
    """Whether there are enough rows to judge; a status, never an exception."""

    status: str  # "ok" or "not_enough_rows"
    n_rows: int
    min_rows: int
    reason: str | None

    @property
    def judged(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "judged": self.judged}


def check_min_rows(n_rows: int, min_rows: int) -> RowsCheck:
    if n_rows >= min_rows:
        return RowsCheck("ok", n_rows, min_rows, None)
    reason = f"not enough rows to judge: {n_rows} < min_rows {min_rows}"
    return RowsCheck("not_enough_rows", n_rows, min_rows, reason)
