"""The RMSE change under heavy tails: which interval keeps `min_delta: <true gain>` at 5%.

    python benchmarks/rmse_change_heavy_tails.py N NOISE TRIALS WEIGHTS [equal]
    python benchmarks/rmse_change_heavy_tails.py --oracle N NOISE DRAWS
    python benchmarks/rmse_change_heavy_tails.py --scale N DRAWS

A methods study on plain numpy (docs/statistics.md, "The change under heavy
tails"): the regressors of benchmarks/calibration.py (a target with Gaussian or
t(3) noise of variance 3, a challenger with prediction noise sd 0.5 and a
champion with sd 0.6, or 0.5 with `equal`), 1,000 resamples of WEIGHTS
(`poisson`: Poisson(1) row weights; `multinomial`: resampled rows), the same
draws and resamples for every method. For each, how often `min_delta: <true
gain>`, `min_delta: 0` and `min_delta: <true gain> / 2` pass and how often the
95% interval of the change covers the true gain. "current" is
`comparison.studentized.from_sums` without the switch (the bootstrap-t of the
RMSE change, delta-method standard error); "mse sym/S" the symmetric
bootstrap-t of the mean squared errors' difference divided by the sum of the
point RMSEs; "if heavy" only where Hill's switch fires (what ci-ml runs since).
`--oracle` gives, without a bootstrap, how often the t-statistics of the RMSE
change and of the MSE difference exceed 1.645. `--scale` gives, without a
bootstrap, under t(3), how often the normal bound of the MSE difference over
the RMSE sum exceeds the true gain with the true RMSE sum, the sample's and
Peng's tail-extrapolated one (`comparison.studentized._Tail`).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ci_ml.comparison import resolve_metric
from ci_ml.comparison.significance import HEAVY_TAIL_INDEX
from ci_ml.comparison.studentized import (
    MomentSums,
    _Tail,
    from_sums,
    hill_tail_index,
    moment_features,
)

B = 1000
VARIANCE = 3.0
METRIC = resolve_metric("neg_root_mean_squared_error")
NAMES = ["current", "mse sym/S", "mse sym/S if heavy", "mse bt/S"]


def weights(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    if kind == "poisson":
        return rng.poisson(1.0, (B, n)).astype(float)
    idx = rng.integers(0, n, (B, n))
    flat = (np.arange(B)[:, None] * n + idx).ravel()
    return np.bincount(flat, minlength=B * n).reshape(B, n).astype(float)


def passes(samples: np.ndarray, margin: float) -> bool:
    return bool((np.count_nonzero(samples <= margin) + 1) / (len(samples) + 1) <= 0.05)


def covers(samples: np.ndarray, truth: float) -> bool:
    low, high = np.quantile(samples, [0.025, 0.975])
    return bool(low <= truth <= high)


def symmetric(point: float, t: np.ndarray, se: float) -> np.ndarray:
    size = np.sort(np.abs(t))
    both = np.concatenate([point - size[::-1] * se, point + size * se])
    return (both[0::2] + both[1::2]) / 2


def noise_of(rng: np.random.Generator, n: int, noise: str) -> np.ndarray:
    if noise == "t3":
        return rng.standard_t(3, n)
    return rng.normal(0, math.sqrt(VARIANCE), n)


def candidates(lc: np.ndarray, lh: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """Pseudo-resamples of the RMSE gain (champion's RMSE - challenger's), per method."""
    n = len(lc)
    features = moment_features([lc, lh])
    sums, n_each = w @ features, w.sum(1)
    moments = MomentSums(features.sum(0)[None, :], float(n), sums, n_each, True)
    current = from_sums(METRIC, moments, (None, None), {}).change
    assert current is not None
    mc, mh = sums[:, 0] / n_each, sums[:, 2] / n_each
    var = (sums[:, 1] / n_each - mc**2) + (sums[:, 3] / n_each - mh**2)
    var -= 2 * (sums[:, 4] / n_each - mc * mh)
    se = np.sqrt(np.maximum(var, 0) / n_each)
    d = lh - lc
    point, point_se = d.mean(), d.std() / math.sqrt(n)
    t = (mh - mc - point) / se
    scale = math.sqrt(lh.mean()) + math.sqrt(lc.mean())
    sym = symmetric(point, t, point_se) / scale
    heavy = any((h := hill_tail_index(x)) is not None and h < HEAVY_TAIL_INDEX for x in (lc, lh))
    return {
        "current": current,
        "mse sym/S": sym,
        "mse sym/S if heavy": sym if heavy else current,
        "mse bt/S": (point - t * point_se) / scale,
    }


def run(n: int, noise: str, trials: int, kind: str, equal: bool = False, seed: int = 23) -> None:
    sd_h = 0.5 if equal else 0.6
    gain = math.sqrt(VARIANCE + sd_h**2) - math.sqrt(VARIANCE + 0.25)
    rng = np.random.default_rng([seed, n, 0 if noise == "gaussian" else 1, int(equal)])
    hits = {m: np.zeros(4) for m in NAMES}
    start = time.time()
    for _ in range(trials):
        shared = noise_of(rng, n, noise)
        lc = (shared - rng.normal(0, 0.5, n)) ** 2
        lh = (shared - rng.normal(0, sd_h, n)) ** 2
        for name, x in candidates(lc, lh, weights(rng, n, kind)).items():
            hits[name] += [passes(x, gain), covers(x, gain), passes(x, 0.0), passes(x, gain / 2)]
    print(f"## {noise} n={n} {kind} equal={equal} trials={trials} ({time.time() - start:.0f}s)")
    for name in NAMES:
        cells = []
        for label, p in zip(
            ("min_delta:g", "covers", "min_delta:0", "g/2"), hits[name] / trials, strict=True
        ):
            cells.append(f"{label} {100 * p:5.2f}% ± {100 * math.sqrt(p * (1 - p) / trials):.2f}")
        print(f"   {name:20s} " + "  ".join(cells))


def oracle(n: int, noise: str, draws: int) -> None:
    """How often the RMSE change's and the MSE difference's t-statistics exceed 1.645."""
    rng = np.random.default_rng(5)
    rc, rh = math.sqrt(VARIANCE + 0.25), math.sqrt(VARIANCE + 0.36)
    above = np.zeros(2)
    for _ in range(draws // 100):
        shared = noise_of(rng, 100 * n, noise).reshape(100, n)
        lc = (shared - rng.normal(0, 0.5, (100, n))) ** 2
        lh = (shared - rng.normal(0, 0.6, (100, n))) ** 2
        d = lh - lc
        t_mse = (d.mean(1) - (rh**2 - rc**2)) / (d.std(1) / math.sqrt(n))
        mc, mh = lc.mean(1), lh.mean(1)
        ga, gb = 0.5 / np.sqrt(mc), 0.5 / np.sqrt(mh)
        cov = (lc * lh).mean(1) - mc * mh
        var = ga**2 * lc.var(1) + gb**2 * lh.var(1) - 2 * ga * gb * cov
        t_rmse = (np.sqrt(mh) - np.sqrt(mc) - (rh - rc)) / np.sqrt(var / n)
        above += [np.sum(t_rmse > 1.645), np.sum(t_mse > 1.645)]
    total = 100 * (draws // 100)
    print(
        f"{noise} n={n} draws={total}: P(t > 1.645) RMSE change {100 * above[0] / total:.2f}%, "
        f"MSE difference {100 * above[1] / total:.2f}%"
    )


def peng_mean(losses: np.ndarray) -> float:
    return float(_Tail.of(losses, 1).estimate(np.ones((1, len(losses))))[0])


def scale_oracle(n: int, draws: int) -> None:
    """How often d - 1.645 se > gain * S for S the true, the sample and Peng's RMSE sum."""
    rng = np.random.default_rng(77)
    true_sum = math.sqrt(VARIANCE + 0.36) + math.sqrt(VARIANCE + 0.25)
    gain = math.sqrt(VARIANCE + 0.36) - math.sqrt(VARIANCE + 0.25)
    hits, ratios = np.zeros(3), []
    for _ in range(draws // 100):
        shared = rng.standard_t(3, (100, n))
        all_c = (shared - rng.normal(0, 0.5, (100, n))) ** 2
        all_h = (shared - rng.normal(0, 0.6, (100, n))) ** 2
        for lc, lh in zip(all_c, all_h, strict=True):
            d = lh - lc
            bound = d.mean() - 1.645 * d.std() / math.sqrt(n)
            sample = math.sqrt(lc.mean()) + math.sqrt(lh.mean())
            peng = math.sqrt(peng_mean(lc)) + math.sqrt(peng_mean(lh))
            hits += [bound > gain * s for s in (true_sum, sample, peng)]
            ratios.append((sample / true_sum, peng / true_sum))
    total = 100 * (draws // 100)
    rates = ", ".join(
        f"{k} {100 * h / total:.2f}%" for k, h in zip(("true", "sample", "Peng"), hits, strict=True)
    )
    median = np.median(np.array(ratios), axis=0)
    print(
        f"t3 n={n} draws={total}: passes with the RMSE sum {rates}; median over the true sum: "
        f"sample {median[0]:.4f}, Peng {median[1]:.4f}"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--scale":
        scale_oracle(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "--oracle":
        oracle(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        n, noise, trials, kind = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
        run(n, noise, trials, kind, equal=len(sys.argv) > 5)
