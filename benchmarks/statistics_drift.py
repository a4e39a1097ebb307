"""Calibration of drift: false alarms at every size, sensitivity at 500 rows.

Each trial draws a reference and a current table of n rows each from the same
20-column population (numeric: normal, log-normal, t(3), Poisson counts with ties,
uniform, exponential, one with 20% nulls; categorical: binary, 5 and 12 levels,
Zipf over 200 and 400 levels (many rare ones; a profile keeps the top 200), 60 even
levels, booleans, 3 levels with nulls), profiles the reference with `build_profile`
and checks the current with
`detect_drift`, ci-ml's own functions in process. A false alarm is a drifted column
(per column) or a run with any drifted column (per run). Sensitivity: in a run of
500 rows one column is changed (a 0.25 sd mean shift, variance x1.5, 10% of rows
shifted by 3 sd, a new category taking 3% of rows) and the share of runs that flag
it is reported. Evidently's DataDriftPreset defaults run on the same tables when
`evidently` is importable.

    python benchmarks/statistics_drift.py [--quick] [--sizes 100,500 | --sensitivity]

`--sizes` and `--sensitivity` run one part (each size has its own seed, so parts run
side by side give the full run's numbers).
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ci_ml.validation import build_profile, detect_drift

SIZES = (100, 500, 999, 1_000, 1_001, 2_000, 10_000, 100_000, 1_000_000)
COLUMNS = 20
ZIPF = 1.0 / np.arange(1, 201) ** 1.1
ZIPF_WIDE = 1.0 / np.arange(1, 401) ** 1.1  # more levels than a profile keeps
Column = Callable[[np.random.Generator, int], np.ndarray]


def _levels(count: int, weights: np.ndarray | None = None) -> Column:
    names = np.array([f"l{i}" for i in range(count)])
    p = None if weights is None else weights / weights.sum()
    return lambda rng, n: names[rng.choice(count, size=n, p=p)]


def _with_nulls(make: Column, share: float) -> Column:
    def draw(rng: np.random.Generator, n: int) -> np.ndarray:
        values = make(rng, n).astype(object)
        values[rng.random(n) < share] = None
        return values

    return draw


POPULATION: dict[str, Column] = {
    "normal_a": lambda rng, n: rng.normal(size=n),
    "normal_b": lambda rng, n: rng.normal(50, 10, size=n),
    "normal_c": lambda rng, n: rng.normal(-3, 0.1, size=n),
    "lognormal_a": lambda rng, n: rng.lognormal(size=n),
    "lognormal_b": lambda rng, n: rng.lognormal(3, 0.5, size=n),
    "t3_a": lambda rng, n: rng.standard_t(3, size=n),
    "t3_b": lambda rng, n: rng.standard_t(3, size=n) * 5,
    "poisson_a": lambda rng, n: rng.poisson(3, size=n).astype(float),
    "poisson_b": lambda rng, n: rng.poisson(0.3, size=n).astype(float),
    "uniform": lambda rng, n: rng.uniform(size=n),
    "exponential": lambda rng, n: rng.exponential(size=n),
    "normal_nulls": _with_nulls(lambda rng, n: rng.normal(size=n), 0.2),
    "binary": _levels(2, np.array([0.7, 0.3])),
    "five": _levels(5, np.array([0.4, 0.25, 0.2, 0.1, 0.05])),
    "twelve": _levels(12),
    "zipf_a": _levels(200, ZIPF),
    "zipf_400": _levels(400, ZIPF_WIDE),
    "sixty": _levels(60),
    "boolean": lambda rng, n: rng.random(n) < 0.5,
    "three_nulls": _with_nulls(_levels(3), 0.3),
}


def _shifted(column: str, change: Callable[[np.random.Generator, np.ndarray], np.ndarray]):
    def draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        data = _draw(rng, n)
        data[column] = change(rng, data[column])
        return data

    return draw


def _new_category(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    values = values.astype(object)
    values[rng.random(len(values)) < 0.03] = "brand-new"
    return values


def _some_rows(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    return values + 3 * (rng.random(len(values)) < 0.1)


SHIFTS = {
    "mean +0.25 sd": ("normal_a", lambda rng, v: v + 0.25),
    "variance x1.5": ("normal_a", lambda rng, v: v * math.sqrt(1.5)),
    "new category at 3%": ("five", _new_category),
    "10% of rows +3 sd": ("normal_a", _some_rows),
}
EVIDENTLY_QUOTED = {  # Evidently 0.7 defaults as quoted by issue #16
    "mean +0.25 sd": 0.94,
    "variance x1.5": 0.42,
    "new category at 3%": 1.00,
    "10% of rows +3 sd": 0.88,
}


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {name: make(rng, n) for name, make in POPULATION.items()}


def _table(data: dict[str, np.ndarray]) -> pa.Table:
    return pa.table(
        {name: pa.array(list(v) if v.dtype == object else v) for name, v in data.items()}
    )


@dataclass
class Tally:
    """Flagged columns per trial for ci-ml (and Evidently when it ran)."""

    trials: int = 0
    columns: int = 0
    runs: int = 0
    watched: int = 0
    evidently_columns: int = 0
    evidently_runs: int = 0
    evidently_watched: int = 0
    evidently_trials: int = 0
    flagged: Counter[str] = field(default_factory=Counter)

    def rate(self, hits: int, of: int) -> str:
        if not of:
            return "-"
        p = hits / of
        error = math.sqrt(p * (1 - p) / of) if hits else min(3 / of, 1.0)  # rule of three
        sign = "±" if hits else "< "
        return f"{p:.2%} ({sign}{error:.2%})" if hits else f"0 ({sign}{error:.2%})"


def _ci_ml_flags(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> set[str]:
    result = detect_drift(build_profile(_table(reference)), _table(current))
    return {c.column for c in result.drifted_columns}


def _evidently_flags(
    reference: dict[str, np.ndarray], current: dict[str, np.ndarray]
) -> set[str] | None:
    try:
        import pandas as pd
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Report([DataDriftPreset()]).run(pd.DataFrame(current), pd.DataFrame(reference))
    metrics = run.dict()["metrics"]
    return {m["config"]["column"] for m in metrics if _drifted(m.get("config", {}), m)}


def _drifted(config: dict, metric: dict) -> bool:
    """Evidently's own rule: a p-value below its threshold, a distance at or above it."""
    threshold, value = config.get("threshold"), metric.get("value")
    if "column" not in config or threshold is None or not isinstance(value, float):
        return False
    return value < threshold if "p_value" in str(config.get("method")) else value >= threshold


def _trial(
    tally: Tally, rng: np.random.Generator, n: int, make, watched: str | None, evidently: bool
) -> None:
    reference, current = _draw(rng, n), make(rng, n)
    flags = _ci_ml_flags(reference, current)
    tally.trials += 1
    tally.columns += len(flags)
    tally.runs += bool(flags)
    tally.watched += watched in flags
    tally.flagged.update(flags)
    theirs = _evidently_flags(reference, current) if evidently else None
    if theirs is not None:
        tally.evidently_trials += 1
        tally.evidently_columns += len(theirs)
        tally.evidently_runs += bool(theirs)
        tally.evidently_watched += watched in theirs


EVIDENTLY_SIZES = (500,)
EVIDENTLY_RUNS = 20  # Evidently takes 2-6 s a run here


def trials_at(n: int, quick: bool) -> int:
    full = 100 if n <= 2_000 else 20 if n <= 10_000 else 5 if n <= 100_000 else 2
    return max(full // (10 if quick else 1), 2)


def false_alarms(quick: bool, seed: int = 16, sizes: tuple[int, ...] = SIZES) -> dict[int, Tally]:
    """Same-distribution runs at every size; Evidently (if installed) beside at a few.
    Each size has its own seed, so a subset of sizes reproduces the full run's rows."""
    tallies = {}
    for n in sizes:
        rng = np.random.default_rng([seed, n])
        tally = Tally()
        for i in range(trials_at(n, quick)):
            evidently = n in EVIDENTLY_SIZES and i < EVIDENTLY_RUNS // (10 if quick else 1)
            _trial(tally, rng, n, _draw, None, evidently)
        tallies[n] = tally
    return tallies


def sensitivity(quick: bool, rows: int = 500, seed: int = 17) -> dict[str, Tally]:
    rng = np.random.default_rng(seed)
    trials = 40 if quick else 100
    tallies = {}
    for label, (column, change) in SHIFTS.items():
        tally = Tally()
        for i in range(trials):
            evidently = i < (2 if quick else EVIDENTLY_RUNS)
            _trial(tally, rng, rows, _shifted(column, change), column, evidently)
        tallies[label] = tally
    return tallies


def tables(quick: bool) -> str:
    """The drift calibration tables (markdown), from fresh simulations."""
    return alarm_table(false_alarms(quick)) + "\n" + sensitivity_table(sensitivity(quick))


def alarm_table(alarms: dict[int, Tally]) -> str:
    lines = [
        "False alarms (same distribution; reference and current of n rows each; "
        f"{COLUMNS} columns a run; Monte Carlo standard error in brackets, "
        "or the 95% upper bound when none were seen):",
        "",
        "| rows | runs | ci-ml per column | ci-ml per run | Evidently runs "
        "| Evidently per column | Evidently per run |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, t in alarms.items():
        e = t.evidently_trials
        lines.append(
            f"| {n:,} | {t.trials} | {t.rate(t.columns, t.trials * COLUMNS)} "
            f"| {t.rate(t.runs, t.trials)} | {e or '-'} "
            f"| {t.rate(t.evidently_columns, e * COLUMNS)} | {t.rate(t.evidently_runs, e)} |"
        )
    flagged = sum((t.flagged for t in alarms.values()), Counter())
    which = ", ".join(f"{name} {count}" for name, count in flagged.most_common()) or "none"
    return "\n".join([*lines, "", f"Columns behind the false alarms: {which}."]) + "\n"


def sensitivity_table(caught: dict[str, Tally]) -> str:
    lines = [
        "Sensitivity at 500 rows (one changed column in a 20-column run; share of runs "
        "that flag it):",
        "",
        "| change | runs | ci-ml | Evidently (this run) | Evidently 0.7 (issue #16) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, t in caught.items():
        e = t.evidently_trials
        lines.append(
            f"| {label} | {t.trials} | {t.rate(t.watched, t.trials)} "
            f"| {t.rate(t.evidently_watched, e)} | {EVIDENTLY_QUOTED[label]:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the trials")
    parser.add_argument("--sizes", help="false alarms only, at these sizes (comma-separated)")
    parser.add_argument("--sensitivity", action="store_true", help="sensitivity only")
    args = parser.parse_args()
    if args.sizes:
        sizes = tuple(int(n) for n in args.sizes.split(","))
        print(alarm_table(false_alarms(args.quick, sizes=sizes)))
    elif args.sensitivity:
        print(sensitivity_table(sensitivity(args.quick)))
    else:
        print(tables(args.quick))


if __name__ == "__main__":
    main()
