"""A methods study, not ci-ml's code path: intervals for a model's own MSE under heavy tails.

The gate's `max: <RMSE>` rule needs a 95% upper bound on the mean of squared
errors. With Student t(3) residuals the squares have infinite variance, and no
nonparametric interval for a mean is valid over all such distributions (Bahadur
and Savage 1956); the sample mostly lacks the rare huge errors that make up the
mean. This script measures, on the same draws (y = signal + noise, prediction
error N(0, 0.5) on top, true MSE 3.25, 1,000 resamples each):

- percentile: quantiles of the bootstrap means;
- studentized: the bootstrap-t on the mean (what ci-ml ships);
- log studentized: the bootstrap-t on log(mean), se by the delta method;
- tail-extrapolated: Peng (2001, "Estimating the mean of a heavy-tailed
  distribution", Statistics & Probability Letters 52): the mean of all but the
  top k = 2 sqrt(n) values plus a Pareto tail fitted by Hill's estimator,
  (k / n) u / (1 - gamma), its percentile bootstrap.

Printed: two-sided 95% coverage, 95% upper-bound coverage (the `max:` rule
passes falsely when the bound is below the truth), and the median upper bound
as a ratio to the true RMSE (how much power the bound costs).

    python benchmarks/rmse_heavy_tails.py [--trials 400,200,40]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

TRUE_MSE = 3.25
RESAMPLES = 1000
SIZES = (100, 1000, 10000)


def squared_errors(rng: np.random.Generator, n: int, noise: str) -> np.ndarray:
    shared = rng.standard_t(3, n) if noise == "t3" else rng.normal(0, math.sqrt(3), n)
    return np.asarray((shared - rng.normal(0, 0.5, n)) ** 2)


def tail_extrapolated(ordered: np.ndarray, k: int) -> np.ndarray:
    """Peng's estimator along the last axis of ascending samples."""
    n = ordered.shape[-1]
    threshold = ordered[..., n - k - 1]
    gamma = np.log(ordered[..., n - k :]).mean(-1) - np.log(threshold)
    gamma = np.minimum(gamma, 0.95)  # a tail index at 1 has no mean at all
    return np.asarray(ordered[..., : n - k].sum(-1) / n + k / n * threshold / (1 - gamma))


def bounds(x: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(lower 2.5%, upper 97.5%, upper 95%) of each method."""
    n = len(x)
    resampled = x[rng.integers(0, n, (RESAMPLES, n))]
    mean, sd = x.mean(), x.std()
    means, sds = resampled.mean(1), resampled.std(1)
    t = (means - mean) / sds
    log_t = (np.log(means) - np.log(mean)) / (sds / means)
    k = max(10, round(2 * math.sqrt(n)))
    tail = tail_extrapolated(np.sort(resampled, axis=1), k)
    upper = [0.975, 0.025, 0.05]
    return {
        "percentile": np.quantile(means, [0.025, 0.975, 0.95]),
        "studentized": mean - np.quantile(t, upper) * sd,
        "log studentized": np.exp(np.log(mean) - np.quantile(log_t, upper) * sd / mean),
        "tail-extrapolated (Peng 2001)": np.quantile(tail, [0.025, 0.975, 0.95]),
    }


def rows(n: int, noise: str, trials: int) -> list[str]:
    rng = np.random.default_rng([n, len(noise)])
    covered: dict[str, list[float]] = {}
    for _ in range(trials):
        for method, (low, high, up) in bounds(squared_errors(rng, n, noise), rng).items():
            tally = covered.setdefault(method, [0, 0, 0])
            tally[0] += low <= TRUE_MSE <= high
            tally[1] += up >= TRUE_MSE
            tally.append(math.sqrt(up / TRUE_MSE))
    return [_row(noise, n, trials, method, t) for method, t in covered.items()]


def _row(noise: str, n: int, trials: int, method: str, tally: list[float]) -> str:
    def rate(hits: float) -> str:
        p = hits / trials
        return f"{p:.1%} ± {math.sqrt(p * (1 - p) / trials):.1%}"

    ratio = float(np.median(tally[3:]))
    cells = [noise, f"{n:,}", str(trials), method, rate(tally[0]), rate(tally[1]), f"{ratio:.2f}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="400,200,40", help="trials at 100,1000,10000 rows")
    counts = [int(t) for t in parser.parse_args().trials.split(",")]
    print(
        "| noise | eval rows | trials | method | 95% interval covers | 95% upper bound covers "
        "| median upper bound / true RMSE |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for noise in ("gaussian", "t3"):
        for n, trials in zip(SIZES, counts, strict=True):
            print("\n".join(rows(n, noise, trials)), flush=True)


if __name__ == "__main__":
    main()
