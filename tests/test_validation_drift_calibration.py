"""Drift calibration, as a statistical test: the cases that broke, with a fixed seed.

Same-distribution runs at 999, 1,000 and 1,001 rows (either side of the old switch
from tests to effect sizes) must raise at most 0.5% false alarms per column and 5%
per run; at 500
rows four realistic changes must be caught at least as often as Evidently's defaults
minus 10 points (issue #16). Tolerances are three binomial standard errors of the
trial count, not hand-tuned numbers. The columns are the benchmark's hardest ones
(many rare levels, ties, heavy tails, nulls); benchmarks/statistics_drift.py runs
all 20 with more trials.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

# imported as a module of the repository: benchmarks/ itself is never put on sys.path,
# where a benchmark's file name could shadow a standard module
from benchmarks import statistics_drift as bench
from ci_ml.validation import build_profile, detect_drift

HARD = ("zipf_a", "zipf_400", "sixty", "twelve", "five", "poisson_a", "t3_a", "normal_a")


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {name: bench.POPULATION[name](rng, n) for name in HARD}


def _flags(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> set[str]:
    result = detect_drift(build_profile(bench._table(reference)), bench._table(current))
    return {c.column for c in result.drifted_columns}


def _upper(rate: float, trials: int) -> float:
    return rate + 3 * math.sqrt(rate * (1 - rate) / trials)


@pytest.mark.parametrize("rows", [999, 1_000, 1_001])
def test_no_false_alarm_cliff_around_1000_rows(rows: int) -> None:
    rng = np.random.default_rng(rows)
    runs = 60
    flags = [_flags(_draw(rng, rows), _draw(rng, rows)) for _ in range(runs)]
    checks = runs * len(HARD)
    assert sum(map(len, flags)) / checks <= _upper(0.005, checks)
    # Holm: at most 5% of runs raise any alarm, whatever the number of columns
    assert sum(map(bool, flags)) / runs <= _upper(0.05, runs)


@pytest.mark.parametrize("change", list(bench.SHIFTS))
def test_changes_at_500_rows_are_caught(change: str) -> None:
    column, shift = bench.SHIFTS[change]
    rng = np.random.default_rng(500)
    runs = 40
    caught = 0
    for _ in range(runs):
        current = _draw(rng, 500)
        current[column] = shift(rng, current[column])
        caught += column in _flags(_draw(rng, 500), current)
    target = bench.EVIDENTLY_QUOTED[change] - 0.10
    assert caught / runs >= target - 3 * math.sqrt(target * (1 - target) / runs)


@pytest.mark.slow
def test_false_alarms_at_every_size(request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("a long simulation: run with -m slow")
    for tally in bench.false_alarms(quick=True).values():
        checks = tally.trials * bench.COLUMNS
        assert tally.columns / checks <= _upper(0.005, checks)
        assert tally.runs / tally.trials <= _upper(0.05, tally.trials)
