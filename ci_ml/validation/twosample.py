"""Two-sample tests of new data against a profile's counts, valid at every sample size.

A profile keeps counts, not rows: a numeric column's reference is its 1% quantile
grid with the share of the reference sample at or below each point; a categorical
column's is the count of each top category and of all others. Both sides therefore
become a 2 x k table of counts over the same cells, and every test here is a
permutation test on that table (exact whatever the data's distribution: the current
side's counts are multivariate hypergeometric given both margins). An approximate
p-value is computed first; only when it is below SETTLED are 4,000 seeded tables drawn.

- numeric: van der Waerden (normal scores, a shift of location) and Klotz (squared
  normal scores, a change of spread), combined by weighted Bonferroni (0.9 of the
  level to the shift, 0.1 to the spread), so either change is caught.
- categorical: the G-test with cells too thin for it (expected count < 5) pooled,
  and the most changed single cell against all others; the smaller p-value. Beside
  it, new levels: the rows of the current side in levels the reference never saw.
- null share: Fisher's exact test on nulls vs values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_EXPECTED = 5.0  # Cochran's rule for the chi-square approximation
SETTLED = 0.02  # an approximate p-value above this cannot be significant at 0.005
RESAMPLES = 4000  # permutation p-values resolve 0.00025


LOCATION_SHARE = 0.9  # of a numeric column's level for a shift; the rest for spread


def rank_tests(reference: np.ndarray, current: np.ndarray, seed: int = 0) -> float:
    """p-value of a location or spread change between two count vectors over ordered cells.

    Weighted Bonferroni over the two: min(p_shift / 0.9, p_spread / 0.1). A shift is the
    change users most need caught at small sizes; the spread test has power to spare.
    """
    from scipy.stats import norm

    reference, current = _occupied(reference, current)
    if reference.sum() == 0 or current.sum() == 0 or len(reference) < 2:
        return 1.0
    pooled = reference + current
    midrank = (np.cumsum(pooled) - (pooled - 1) / 2) / (pooled.sum() + 1)
    location = norm.ppf(midrank)
    scores = np.vstack([_standardised(location, pooled), _standardised(location**2, pooled)])
    moments = _rank_moments(scores, pooled, current.sum())
    shares = np.array([LOCATION_SHARE, 1 - LOCATION_SHARE])

    def combined_p(currents: np.ndarray) -> np.ndarray:
        z = (currents @ scores.T - moments[0]) / moments[1]
        return np.asarray(np.minimum(1.0, (2 * norm.sf(np.abs(z)) / shares).min(axis=-1)))

    approximate = float(combined_p(current[None, :])[0])
    return _permutation_p(
        approximate, -approximate, lambda t: -combined_p(t), pooled, current.sum(), seed
    )


def _standardised(scores: np.ndarray, pooled: np.ndarray) -> np.ndarray:
    mean = (pooled * scores).sum() / pooled.sum()
    return np.asarray(scores - mean)


def _rank_moments(scores: np.ndarray, pooled: np.ndarray, m: float) -> tuple[float, np.ndarray]:
    """Permutation mean (0: scores are centred) and sd of sum(current x scores)."""
    total = float(pooled.sum())
    variance = m * (total - m) / (total * (total - 1)) * (pooled * scores**2).sum(axis=1)
    return 0.0, np.sqrt(np.maximum(variance, 1e-12))


def _permutation_p(
    approximate: float,
    observed: float,
    statistic: Any,
    pooled: np.ndarray,
    m: float,
    seed: int,
) -> float:
    """The permutation p-value where it matters (an approximation below SETTLED), else
    the approximation: a same-distribution column rarely pays for resampling."""
    if approximate > SETTLED:
        return approximate
    rng = np.random.default_rng(seed)
    tables = rng.multivariate_hypergeometric(
        pooled.astype(np.int64), int(m), size=RESAMPLES, method="marginals"
    )
    # at least as extreme, ties included (rounding aside)
    exceed = int((statistic(tables.astype(float)) >= observed - 1e-9 * abs(observed)).sum())
    if exceed == 0:  # beyond the resampling's resolution, where the approximation holds
        return min(approximate, 1 / (RESAMPLES + 1))
    return (1 + exceed) / (RESAMPLES + 1)


def _occupied(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (reference + current) > 0
    return reference[keep].astype(float), current[keep].astype(float)


def category_tests(reference: np.ndarray, current: np.ndarray, seed: int = 0) -> float:
    """p-value of a change of category shares: the G-test (likelihood ratio) with cells
    too thin for it (expected count < 5) pooled, by permutation when close."""
    from scipy.stats import chi2

    reference, current = _occupied(reference, current)
    if reference.sum() == 0 or current.sum() == 0 or len(reference) < 2:
        return 1.0
    pooled = reference + current
    m, total = current.sum(), pooled.sum()
    thin = np.minimum(pooled * m, pooled * (total - m)) / total < MIN_EXPECTED
    if thin.any():
        reference, current = _pool(reference, thin), _pool(current, thin)
        pooled = reference + current
    if len(pooled) < 2:
        return 1.0
    shares = pooled / total

    def combined_p(currents: np.ndarray) -> np.ndarray:
        """The smaller, doubled, of the G-test's p and the most changed cell's (x cells)."""
        overall = chi2.sf(_g_statistic(currents, pooled - currents, shares, m, total - m), k - 1)
        cells = chi2.sf(_cell_g(currents, pooled, m, total), 1).min(axis=-1)
        return np.minimum(1.0, 2 * np.minimum(overall, k * cells))

    k = len(pooled)
    approximate = float(combined_p(current[None, :])[0])
    return _permutation_p(approximate, -approximate, lambda t: -combined_p(t), pooled, m, seed)


def new_level_p(reference: np.ndarray, current: np.ndarray) -> float:
    """p-value of the largest level absent from the reference, c rows in the current side.

    Given both margins, all k rows of a level land on the current side with probability
    C(m, k) / C(N, k), about 2^-k for equal sides; the sum of that over every level of at
    least c rows bounds the chance that any level that big is new (exact, conservative).
    """
    from scipy.stats import hypergeom

    new = current[(reference == 0) & (current > 0)]
    if not new.size:
        return 1.0
    pooled = (reference + current)[reference + current >= new.max()]
    m, total = int(current.sum()), int((reference + current).sum())
    return float(min(1.0, hypergeom.pmf(pooled, total, pooled, m).sum()))


def _cell_g(current: np.ndarray, pooled: np.ndarray, m: float, total: float) -> np.ndarray:
    """G statistic of each cell against all others (its 2 x 2 table)."""
    cur = np.stack([current, m - current], axis=-1)
    ref = np.stack([pooled - current, (total - m) - (pooled - current)], axis=-1)
    column = np.stack([pooled, total - pooled], axis=-1) / total
    return _g_statistic(cur, ref, column, m, total - m)


def _pool(counts: np.ndarray, thin: np.ndarray) -> np.ndarray:
    return np.append(counts[~thin], counts[thin].sum())


def _g_statistic(
    current: np.ndarray, reference: np.ndarray, shares: np.ndarray, m: float, n: float
) -> np.ndarray:
    """2 sum O log(O / E) over both rows of each 2 x k table (the last axis)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cur = np.where(current > 0, current * np.log(current / (shares * m)), 0.0)
        ref = np.where(reference > 0, reference * np.log(reference / (shares * n)), 0.0)
    return np.asarray(2 * (cur + ref).sum(axis=-1))


def pooled_chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square of homogeneity, cells with expected count < 5 pooled into one."""
    from scipy.stats import chi2

    table = np.vstack([reference, current]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / max(table.sum(), 1.0)
    thin = expected.min(axis=0) < MIN_EXPECTED
    if thin.any():
        table = np.column_stack([table[:, ~thin], table[:, thin].sum(axis=1)])
    if table.shape[1] < 2 or table.sum(axis=1).min() == 0:
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    return statistic, float(chi2.sf(statistic, table.shape[1] - 1))


def fisher_p(hits: Any, draws: Any, successes: Any, population: int) -> Any:
    """Two-sided p (twice the smaller tail) of `hits` of `successes` falling in `draws`;
    elementwise over arrays."""
    from scipy.stats import hypergeom

    lower = hypergeom.cdf(hits, population, successes, draws)
    upper = hypergeom.sf(np.asarray(hits) - 1, population, successes, draws)
    return np.minimum(1.0, 2 * np.minimum(lower, upper))


def growth_p(hits: Any, draws: Any, successes: Any, population: int) -> Any:
    """One-sided p of at least `hits` of `successes` falling in `draws`; elementwise."""
    from scipy.stats import hypergeom

    return hypergeom.sf(np.asarray(hits) - 1, population, successes, draws)


def ks_p_value(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sample KS p-value, scipy's: exact KS law at the effective sample size."""
    from scipy.stats import kstwo

    if statistic <= 0 or n_reference <= 0 or n_current <= 0:
        return 1.0
    effective = max(round(n_reference * n_current / (n_reference + n_current)), 1)
    return float(kstwo.sf(min(statistic, 1.0), effective))
