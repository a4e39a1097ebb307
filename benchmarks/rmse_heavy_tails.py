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

    python benchmarks/rmse_heavy_tails.py [--trials 400,200,40] [--noise t3]
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


HEAVY = 2.5  # the gate's switch: Hill's tail index of the losses below this
# the credible switches: Hill's 1/index above 1/HEAVY by this many of its standard errors
SWITCHES = {"Hill < 2.5 (shipped)": 0.0, "credible z=1": 1.0, "credible z=1.645": 1.645}


def hill_gamma(x: np.ndarray) -> tuple[float, int]:
    """Hill's 1/index on the top k = max(10, sqrt(n)) values, as ci-ml computes it, and k."""
    k = max(10, round(math.sqrt(len(x))))
    top = np.sort(x)[-k - 1 :]
    return float(np.mean(np.log(top[1:])) - math.log(top[0])), k


def heavy(x: np.ndarray, z: float) -> bool:
    """Hill's 1/index is asymptotically N(1/index, (1/index)^2 / k) (Hall 1982): fire when
    its one-sided lower bound z standard errors down, gamma (1 - z / sqrt(k)), is above
    1 / HEAVY (z = 0: the index itself below HEAVY, what the gate ships)."""
    gamma, k = hill_gamma(x)
    return gamma * (1 - z / math.sqrt(k)) > 1 / HEAVY


def switched(methods: dict[str, np.ndarray], x: np.ndarray) -> dict[str, np.ndarray]:
    """The gate's candidate rules: a switch, and which bounds it takes when it fires."""
    stud, peng = methods["studentized"], methods["tail-extrapolated (Peng 2001)"]
    union = np.array([stud[0], max(stud[1], peng[1]), max(stud[2], peng[2])])
    uses = {"max upper": union, "Peng lower, max upper": np.array([peng[0], *union[1:]])}
    uses["Peng two-sided"] = peng
    out: dict[str, np.ndarray] = {}
    for switch, z in SWITCHES.items():
        fires = heavy(x, z)
        out |= {f"{switch}: {use}": bound if fires else stud for use, bound in uses.items()}
    return out


def peng_k(n: int, scale: float = 2.0) -> int:
    """Peng's tail rows: scale sqrt(n), at least 10 (the gate's: scale 2)."""
    return max(10, round(scale * math.sqrt(n)))


def top_sorted(samples: np.ndarray, k: int) -> np.ndarray:
    """Each row with its top k + 1 values last and ascending (the rest in any order): all
    `tail_extrapolated` needs for k or fewer tail rows, in linear time."""
    n = samples.shape[-1]
    part = np.partition(samples, n - k - 1, axis=-1)
    part[..., n - k - 1 :] = np.sort(part[..., n - k - 1 :], axis=-1)
    return part


def bounds(x: np.ndarray, rng: np.random.Generator, scale: float = 2.0) -> dict[str, np.ndarray]:
    """(lower 2.5%, upper 97.5%, upper 95%) of each method; Peng's on peng_k(n, scale) rows."""
    n = len(x)
    resampled = x[rng.integers(0, n, (RESAMPLES, n))]
    mean, sd = x.mean(), x.std()
    means, sds = resampled.mean(1), resampled.std(1)
    t = (means - mean) / sds
    log_t = (np.log(means) - np.log(mean)) / (sds / means)
    k = peng_k(n, scale)
    tail = tail_extrapolated(top_sorted(resampled, k), k)
    upper = [0.975, 0.025, 0.05]
    methods = {
        "percentile": np.quantile(means, [0.025, 0.975, 0.95]),
        "studentized": mean - np.quantile(t, upper) * sd,
        "log studentized": np.exp(np.log(mean) - np.quantile(log_t, upper) * sd / mean),
        "tail-extrapolated (Peng 2001)": np.quantile(tail, [0.025, 0.975, 0.95]),
    }
    return methods | switched(methods, x)


# a `max:` rule this many times the true RMSE (it truly holds) passes when the upper bound is
# below it: the power each method keeps (the rows of docs/statistics.md's power table)
POWER_RATIO = {
    "gaussian": {100: 1.2, 1000: 1.05, 10000: 1.02},
    "t3": {100: 1.5, 1000: 1.2, 10000: 1.1},
}


def rows(n: int, noise: str, trials: int) -> list[str]:
    rng = np.random.default_rng([n, len(noise)])
    covered: dict[str, list[float]] = {}
    ratio = POWER_RATIO[noise][n]
    for _ in range(trials):
        for method, (low, high, up) in bounds(squared_errors(rng, n, noise), rng).items():
            tally = covered.setdefault(method, [0, 0, 0])
            tally[0] += low <= TRUE_MSE <= high
            tally[1] += up >= TRUE_MSE
            tally[2] += math.sqrt(up / TRUE_MSE) < ratio
            tally.append(math.sqrt(up / TRUE_MSE))
    return [_row(noise, n, trials, method, t, ratio) for method, t in covered.items()]


def _row(noise: str, n: int, trials: int, method: str, tally: list[float], ratio: float) -> str:
    def rate(hits: float) -> str:
        p = hits / trials
        return f"{p:.1%} ± {math.sqrt(max(p * (1 - p), 1 / trials**2) / trials):.1%}"

    median = float(np.median(tally[3:]))
    cells = [noise, f"{n:,}", str(trials), method, rate(tally[0]), rate(tally[1])]
    cells += [f"{median:.2f}", f"{ratio:g}x: {rate(tally[2])}"]
    return "| " + " | ".join(cells) + " |"


SHIPPED = "Hill < 2.5 (shipped): max upper"
PENG_LOWER = "Hill < 2.5 (shipped): Peng lower, max upper"
SIDES = ("covers", "lower end above the truth", "upper end below it", "95% upper bound below it")


def side_rows(n: int, noise: str, trials: int, scales: tuple[float, ...] = (2.0, 1.0)) -> list[str]:
    """Where the shipped rule's two-sided interval misses (its lower end above the true MSE,
    or its upper end below), and its 95% upper bound below the truth (the `max: <true
    RMSE>` rule passes), with Peng's tail on scale sqrt(n) rows, and with Peng's lower end
    too: the same resamples per scale (the generator's state replayed)."""
    rng = np.random.default_rng([n, len(noise), 16])
    cases = [(scale, method) for scale in scales for method in (SHIPPED, PENG_LOWER)]
    tally = np.zeros((len(cases), len(SIDES)))
    for _ in range(trials):
        x = squared_errors(rng, n, noise)
        state = rng.bit_generator.state
        for scale in scales:
            rng.bit_generator.state = state
            found = bounds(x, rng, scale)
            for method in (SHIPPED, PENG_LOWER):
                low, high, up = found[method]
                hits = [low <= TRUE_MSE <= high, low > TRUE_MSE, high < TRUE_MSE, up < TRUE_MSE]
                tally[cases.index((scale, method))] += hits
    return [_side_row(n, noise, trials, case, tally[j]) for j, case in enumerate(cases)]


def _side_row(n: int, noise: str, trials: int, case: tuple[float, str], tally: np.ndarray) -> str:
    def rate(hits: float) -> str:
        p = hits / trials
        return f"{p:.1%} ± {math.sqrt(max(p * (1 - p), 1 / trials**2) / trials):.1%}"

    scale, method = case
    cells = [noise, f"{n:,}", str(trials), method, f"{scale:g} sqrt(n) = {peng_k(n, scale)}"]
    return "| " + " | ".join(cells + [rate(h) for h in tally]) + " |"


def tail_estimates(x: np.ndarray, k: int) -> tuple[float, float]:
    """Hill's 1/index and the moment estimator of Dekkers, Einmahl and de Haan (1989,
    Ann. Statist. 17), on the top k values."""
    top = np.sort(x)[-k - 1 :]
    excess = np.log(top[1:]) - math.log(top[0])
    m1, m2 = float(excess.mean()), float((excess**2).mean())
    return m1, m1 + 1 - 0.5 / (1 - m1 * m1 / m2)


def switch_rows(trials: int) -> list[str]:
    """Can a tail test tell Gaussian squared errors from t(3) ones? For a threshold that
    fires on a given share of t(3) eval sets, how often it fires on Gaussian ones."""
    out = []
    for n in (100, 1000):
        for k in sorted({max(10, round(math.sqrt(n))), round(2 * math.sqrt(n))}):
            rng = np.random.default_rng([n, k])
            draws = {
                noise: np.array(
                    [tail_estimates(squared_errors(rng, n, noise), k) for _ in range(trials)]
                )
                for noise in ("gaussian", "t3")
            }
            for j, name in enumerate(("Hill", "moment (DEdH)")):
                out.append(
                    _switch_row(n, k, trials, name, draws["gaussian"][:, j], draws["t3"][:, j])
                )
    return out


def _switch_row(
    n: int, k: int, trials: int, name: str, gaussian: np.ndarray, t3: np.ndarray
) -> str:
    cells = [f"{n:,}", str(k), str(trials), name]
    for fires_on_t3 in (0.98, 0.95, 0.90):
        threshold = float(np.quantile(t3, 1 - fires_on_t3))
        cells.append(f"{np.mean(gaussian > threshold):.1%} (> {threshold:.2f})")
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", default="400,200,40", help="trials at 100,1000,10000 rows")
    parser.add_argument("--noise", choices=("gaussian", "t3"), help="this noise only")
    parser.add_argument("--switch", type=int, help="the tail-test table, this many trials")
    parser.add_argument(
        "--sides", action="store_true", help="where the shipped interval misses, by Peng's k"
    )
    args = parser.parse_args()
    if args.sides:
        _print_sides(args.noise or "t3", [int(t) for t in args.trials.split(",")])
        return
    if args.switch:
        print(
            "| eval rows | k | trials | estimator | Gaussian sets it fires on, at 98% of t(3) "
            "sets (threshold) | at 95% | at 90% |"
        )
        print("|---:|---:|---:|---|---:|---:|---:|")
        print("\n".join(switch_rows(args.switch)))
        return
    counts = [int(t) for t in args.trials.split(",")]
    print(
        "| noise | eval rows | trials | method | 95% interval covers | 95% upper bound covers "
        "| median upper bound / true RMSE | `max: r x true RMSE` passes |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for noise in [args.noise] if args.noise else ["gaussian", "t3"]:
        for n, trials in zip(SIZES, counts, strict=True):
            if trials == 0:
                continue
            print("\n".join(rows(n, noise, trials)), flush=True)


def _print_sides(noise: str, counts: list[int]) -> None:
    print(
        "| noise | eval rows | trials | rule | Peng's tail rows k | 95% interval covers | "
        + " | ".join(SIDES[1:])
        + " |"
    )
    print("|---|---:|---:|---|---|---:|---:|---:|---:|")
    for n, trials in zip(SIZES, counts, strict=True):
        if trials:
            print("\n".join(side_rows(n, noise, trials)), flush=True)


if __name__ == "__main__":
    main()
