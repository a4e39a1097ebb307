"""Drift of new data against the champion's training profile.

Defaults (all overridable per column, see docs/validation.md and docs/statistics.md):

- a column drifts only when its effect size is above its threshold AND a test says
  the change is more than sampling noise at this sample size: Holm-adjusted p < 0.05
  across the feature columns (and raw p < 0.005), so at most 5% of same-distribution
  runs raise any alarm. There is no switch at any sample size, so no false-alarm cliff.
- numeric columns: normalised Wasserstein distance (W1 / reference std) above 0.1
  (PSI above 0.2 on request); the test is the larger of two rank tests on the
  profile's quantile grid, one for a shift (van der Waerden) and one for spread (Klotz),
  weighted Bonferroni 0.9 / 0.1.
- categorical columns: Jensen-Shannon distance (base 2) above 0.1; the test is the
  likelihood-ratio (G) test with thin cells pooled, plus one on the most changed level,
  and by Bonferroni an exact test of the largest level the reference never saw.
- p-values: an approximation, refined by seeded permutations when it is small, so
  results are repeatable; explicitly chosen `ks` / `chisquare` methods decide by
  their p-value alone (KS through scipy's exact distribution).
- a column's null share drifts when it moved by more than 0.1 and its test (Fisher's
  exact, part of the column's p-value) is significant as above.
- the dataset drifts when more than 30% of the feature columns drift, or when a
  column was added or removed since the champion was trained.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ci_ml.comparison import HOLM, adjusted_p_values
from ci_ml.comparison import benjamini_hochberg as benjamini_hochberg  # the one BH
from ci_ml.errors import ConfigError
from ci_ml.validation.profile import KINDS, SAMPLE_ROWS, ColumnAccumulator, scan_columns
from ci_ml.validation.scan import open_source
from ci_ml.validation.schema import check_against_json_schema, config_sections_schema
from ci_ml.validation.stats import RowSampler, quantiles
from ci_ml.validation.twosample import (
    category_tests,
    fisher_p,
    growth_p,
    ks_p_value,
    new_level_p,
    pooled_chi_square,
    rank_tests,
)

DEFAULT_THRESHOLDS = {
    "wasserstein": 0.1,
    "psi": 0.2,
    "ks": 0.05,
    "jensenshannon": 0.1,
    "chisquare": 0.05,
    "constant": 0.1,
}
METHODS = {
    "numeric": ("auto", "wasserstein", "psi", "ks"),
    "categorical": ("auto", "jensenshannon", "psi", "chisquare"),
}
P_VALUE_METHODS = ("ks", "chisquare")
EFFECT_METHODS = ("wasserstein", "psi", "jensenshannon")
# An effect size drifts only when a test says it is more than sampling noise: Holm at
# a family-wise 5% across the feature columns (at most 5% of same-distribution runs
# raise any alarm), and never above 0.5% for a column alone (a target checked by itself).
COLUMN_ALPHA = 0.005
FAMILY_LEVEL = 0.05
NULL_SHARE = 0.2  # of a nullable column's level for its null share
FLOOR = 1e-4  # PSI treats an empty bin as holding this fraction, as is customary


@dataclass
class ColumnOverride:
    """Per-column choices: a method, its threshold, or leaving the column out."""

    method: str = "auto"
    threshold: float | None = None
    ignore: bool = False


@dataclass
class DriftOptions:
    """How drift is measured and what it does to the run (the `drift:` config section)."""

    action: str = "warn"
    retrain_on_drift: bool = False
    share: float = 0.3
    small_sample: int = 1000
    null_threshold: float = 0.1
    methods: dict[str, str] = field(default_factory=lambda: dict.fromkeys(KINDS, "auto"))
    thresholds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    columns: dict[str, ColumnOverride] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def from_config(cls, section: dict[str, Any] | None) -> DriftOptions:
        """Options from a `drift:` mapping, checked against its JSON Schema (ConfigError)."""
        section = dict(section or {})
        check_against_json_schema({"drift": section}, config_sections_schema(), "ci-ml.yaml")
        options = cls()
        for key in (
            "action",
            "retrain_on_drift",
            "share",
            "small_sample",
            "null_threshold",
            "seed",
        ):
            if key in section:
                setattr(options, key, section[key])
        section.pop("enabled", None)
        options.methods.update(section.get("methods", {}))
        options.thresholds.update(section.get("thresholds", {}))
        options.columns = {
            name: ColumnOverride(**spec) for name, spec in section.get("columns", {}).items()
        }
        return options

    def override(self, column: str) -> ColumnOverride:
        return self.columns.get(column, ColumnOverride())


@dataclass
class ColumnDrift:
    """Drift of one column: the deciding statistic, its threshold, and a plain description."""

    column: str
    kind: str
    method: str
    statistic: float | None
    threshold: float | None
    drifted: bool
    description: str
    p_value: float | None = None
    p_adjusted: float | None = None
    status: str = "compared"
    role: str = "feature"
    details: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DriftResult:
    """Per-column drift, the dataset decision, and target and prediction drift apart."""

    columns: list[ColumnDrift]
    target: ColumnDrift | None
    prediction: ColumnDrift | None
    drifted_share: float
    share_threshold: float
    dataset_drift: bool
    schema_changed: bool
    action: str
    retrain_on_drift: bool
    reference_rows: int
    current_rows: int

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    @property
    def passed(self) -> bool:
        """False (exit 1) when the dataset drifted and drift blocks, or, unless drift is
        ignored, when columns were added or removed: the champion's profile no longer
        describes the data, so drift cannot be judged."""
        if self.action == "ignore":
            return True
        return not (self.schema_changed or (self.dataset_drift and self.action == "block"))

    @property
    def retrain(self) -> bool:
        """Whether a scheduled run should retrain because of this drift."""
        return self.dataset_drift and self.retrain_on_drift

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "dataset_drift": self.dataset_drift,
            "schema_changed": self.schema_changed,
            "drifted_share": self.drifted_share,
            "share_threshold": self.share_threshold,
            "drifted_columns": [c.column for c in self.drifted_columns],
            "action": self.action,
            "retrain": self.retrain,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [c.to_dict() for c in self.columns],
            "target": self.target.to_dict() if self.target else None,
            "prediction": self.prediction.to_dict() if self.prediction else None,
        }


# ---- the current data, accumulated against a reference column ------------------------


class CurrentColumn:
    """Statistics of one column of the new data, binned on its reference's grid."""

    def __init__(self, name: str, reference: dict[str, Any]) -> None:
        kind = reference["kind"] if reference["kind"] in KINDS else None
        self.reference = reference
        self.accumulator = ColumnAccumulator(name, kind)
        self.name = name
        numeric = reference["kind"] == "numeric"
        self.grid = np.unique(reference["quantiles"]) if numeric else np.empty(0)
        self.edges = np.asarray(reference["bins"]["edges"]) if numeric else np.empty(0)
        self.at_most = np.zeros(len(self.grid), np.int64)
        self.below = np.zeros(len(self.grid), np.int64)

    def update(
        self, array: pa.Array, chosen: np.ndarray, keys: np.ndarray, threshold: float
    ) -> np.ndarray | None:
        finite = self.accumulator.update(array, chosen, keys, threshold)
        if finite is not None and self.grid.size:
            self._count(finite)
        return finite

    def _count(self, finite: np.ndarray) -> None:
        """How many values are <= and < each grid point (sorting first is 10x faster)."""
        ordered = np.sort(finite)
        self.at_most += np.searchsorted(ordered, self.grid, side="right")
        self.below += np.searchsorted(ordered, self.grid, side="left")

    @property
    def bins(self) -> np.ndarray:
        """Counts in the reference's PSI bins (-inf, e0], (e0, e1], ..., (e_last, inf)."""
        at_edges = self.at_most[np.searchsorted(self.grid, self.edges)]
        return np.diff(np.concatenate([[0], at_edges, [self.values]]))

    @property
    def kind(self) -> str | None:
        return self.accumulator.kind

    @property
    def rows(self) -> int:
        a = self.accumulator
        return a.rows_before + (a.numeric.rows if a.kind == "numeric" else a.categories.rows)

    @property
    def nulls(self) -> int:
        a = self.accumulator
        nulls = a.numeric.nulls + a.numeric.invalid if a.kind == "numeric" else a.categories.nulls
        return a.rows_before + nulls

    @property
    def values(self) -> int:
        return self.rows - self.nulls


def scan_current(
    source: Any, reference: dict[str, Any], names: list[str], seed: int
) -> tuple[dict[str, CurrentColumn], int, float]:
    """One pass over the new data: per column statistics, the row count, the sample key."""
    current = {name: CurrentColumn(name, reference[name]) for name in names}
    sampler = RowSampler(SAMPLE_ROWS, seed)
    rows = scan_columns(source.batches(names), list(current.values()), sampler)  # type: ignore[arg-type]
    return current, rows, sampler.finish()


# ---- statistics ---------------------------------------------------------------------------


def ks_distance(reference: dict[str, Any], current: CurrentColumn) -> float:
    """Kolmogorov-Smirnov distance between the reference CDF and the new data's.

    Exact when the profile holds every distinct reference value (`cdf_exact`, e.g. a
    reference of at most 100 rows); otherwise the supremum is taken over the
    reference's 1% quantile grid. The new data's CDF is counted exactly.
    """
    grid = current.grid
    points = np.asarray(reference["quantiles"])
    cdf = np.asarray(reference["cdf"])
    ref_at = cdf[np.searchsorted(points, grid, side="right") - 1]
    ref_before = np.concatenate([[0.0], ref_at[:-1]])
    total = max(current.values, 1)
    cur_at = current.at_most / total
    cur_before = current.below / total
    tail = abs(1.0 - cur_at[-1]) if len(cur_at) else 1.0
    gaps: list[np.ndarray] = [np.abs(ref_at - cur_at), np.array([tail])]
    if reference.get("cdf_exact"):  # between grid points a step CDF stays flat
        gaps.append(np.abs(ref_before - cur_before))
    return float(np.concatenate(gaps).max())


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins."""
    e = np.maximum(expected / max(expected.sum(), 1e-12), FLOOR)
    a = np.maximum(actual / max(actual.sum(), 1e-12), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def wasserstein(reference: dict[str, Any], sample: np.ndarray) -> float:
    """W1 between the two quantile functions, divided by the reference std.

    The integral runs over the 1%..99% quantiles: the 0% and 100% points are single
    extreme values, whose noise would otherwise dominate small distances.
    """
    ref_points = np.asarray(reference["quantiles"])
    cur_points = quantiles(sample, len(ref_points))
    distance_w1 = float(np.mean(np.abs(ref_points - cur_points)[1:-1]))
    return distance_w1 / float(reference["std"])


# ---- comparing one column --------------------------------------------------------------


def compare_column(
    name: str,
    reference: dict[str, Any],
    current: CurrentColumn,
    options: DriftOptions,
    threshold: float,
    role: str = "feature",
) -> ColumnDrift:
    """Drift of one column, before its test is judged (`decide`, after Holm adjustment)."""
    result = _empty_side(name, reference, current, options)
    if result is None:
        if reference["kind"] == "numeric":
            result = _numeric(name, reference, current, options, threshold)
        else:
            result = _categorical(name, reference, current, options)
        result.details.update(_null_test(reference, current))
    result.role = role
    invalid = current.accumulator.numeric.invalid
    if invalid:
        result.description = f"{invalid} values are not numbers; {result.description}"
    return result


def _empty_side(
    name: str, reference: dict[str, Any], current: CurrentColumn, options: DriftOptions
) -> ColumnDrift | None:
    ref_nulls, cur_nulls = reference["null_fraction"], _fraction(current.nulls, current.rows)
    limit = options.null_threshold
    change = abs(cur_nulls - ref_nulls)
    if reference["kind"] == "empty":
        text = (
            "all null in both"
            if not current.values
            else f"was all null, now {1 - cur_nulls:.0%} filled"
        )
        return ColumnDrift(
            name,
            "empty",
            "null_fraction",
            change,
            limit,
            bool(current.values),
            text,
            details=_nulls(ref_nulls, cur_nulls),
        )
    if not current.values:
        return ColumnDrift(
            name,
            reference["kind"],
            "null_fraction",
            change,
            limit,
            True,
            f"now all null (was {ref_nulls:.0%} null)",
            details=_nulls(ref_nulls, cur_nulls),
        )
    return None


def _null_test(reference: dict[str, Any], current: CurrentColumn) -> dict[str, float | None]:
    """The null shares and Fisher's p-value of their change."""
    ref_nulls, cur_nulls = reference["null_fraction"], _fraction(current.nulls, current.rows)
    rows = int(reference["count"]) + current.rows
    nulls = int(reference["nulls"]) + current.nulls
    p_value = float(fisher_p(current.nulls, current.rows, nulls, rows)) if nulls else 1.0
    return _nulls(ref_nulls, cur_nulls) | {"null_p_value": p_value}


def _null_drift(result: ColumnDrift, options: DriftOptions) -> None:
    """A null share that moved by more than null_threshold (its test judged by `decide`)."""
    before = result.details.get("null_fraction_reference") or 0.0
    after = result.details.get("null_fraction_current") or 0.0
    if abs(after - before) > options.null_threshold:
        result.drifted = True
        result.description = f"nulls {before:.0%} -> {after:.0%}; {result.description}"


def _nulls(reference: float, current: float) -> dict[str, float | None]:
    return {"null_fraction_reference": reference, "null_fraction_current": current}


def _fraction(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _chosen_method(name: str, kind: str, options: DriftOptions) -> str:
    method = options.override(name).method
    if method == "auto":
        method = options.methods.get(kind, "auto")
    if method not in METHODS[kind]:
        raise ConfigError(
            f"drift.columns.{name}.method: {method!r} does not apply to a "
            f"{kind} column (use one of {METHODS[kind]})"
        )
    if method != "auto":
        return method
    return "wasserstein" if kind == "numeric" else "jensenshannon"


def _threshold(name: str, method: str, options: DriftOptions) -> float:
    own = options.override(name).threshold
    return float(own if own is not None else options.thresholds[method])


def _numeric(
    name: str,
    reference: dict[str, Any],
    current: CurrentColumn,
    options: DriftOptions,
    sample_threshold: float,
) -> ColumnDrift:
    sample = current.accumulator.numeric.sample(sample_threshold)
    ks = ks_distance(reference, current)
    # A sketched reference CDF is only as sure as the sample it came from.
    reference_n = min(reference["values"], reference["sample_size"])
    ks_p = ks_p_value(ks, reference_n, current.values)
    details: dict[str, float | None] = {
        "ks": ks,
        "ks_p_value": ks_p,
        "psi": psi(np.asarray(reference["bins"]["fractions"]), current.bins.astype(float)),
        "wasserstein": wasserstein(reference, sample) if reference["std"] > 0 else None,
        "median_reference": reference["median"],
        "median_current": float(np.median(sample)),
    }
    if reference["min"] == reference["max"]:
        return _constant(name, reference, current, details, ks_p, options)
    method = _chosen_method(name, "numeric", options)
    statistic = ks if method == "ks" else details[method]
    threshold = _threshold(name, method, options)
    p_value = (
        ks_p if method == "ks" else rank_tests(*_grid_counts(reference, current), options.seed)
    )
    drifted = method not in P_VALUE_METHODS and float(statistic or 0.0) > threshold
    text = _numeric_description(reference, sample)
    return ColumnDrift(
        name, "numeric", method, statistic, threshold, drifted, text, p_value, details=details
    )


def _grid_counts(
    reference: dict[str, Any], current: CurrentColumn
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides in the cells (-inf, g0], (g0, g1], ..., (g_last, inf) of the
    reference's quantile grid; the reference's from its sample's CDF."""
    points, cdf = np.asarray(reference["quantiles"]), np.asarray(reference["cdf"])
    ref_at = cdf[np.searchsorted(points, current.grid, side="right") - 1]
    size = min(reference["values"], reference["sample_size"])
    ref_counts = np.diff(np.concatenate([[0.0], np.round(ref_at * size), [size]]))
    cur_counts = np.diff(np.concatenate([[0], current.at_most, [current.values]]))
    return np.maximum(ref_counts, 0.0), cur_counts.astype(float)


def _constant(
    name: str,
    reference: dict[str, Any],
    current: CurrentColumn,
    details: dict[str, float | None],
    p_value: float,
    options: DriftOptions,
) -> ColumnDrift:
    """A reference that held one value: drift is the share of new values that differ."""
    value = reference["min"]
    index = int(np.searchsorted(current.grid, value))
    equal = int(current.at_most[index] - current.below[index])
    share = 1.0 - _fraction(equal, current.values)
    threshold = _threshold(name, "constant", options)
    text = f"was constant {_number(value)}, now {share:.0%} of values differ"
    return ColumnDrift(
        name,
        "numeric",
        "constant",
        share,
        threshold,
        share > threshold,
        text,
        p_value,
        details=details,
    )


def _numeric_description(reference: dict[str, Any], sample: np.ndarray) -> str:
    before, after = reference["median"], float(np.median(sample))
    spread = float(reference["std"]) or 1.0
    if abs(after - before) >= 0.05 * spread:
        digits = max(0, 1 - math.floor(math.log10(abs(after - before))))  # 2 digits of the move
        before, after = round(before, digits) + 0.0, round(after, digits) + 0.0  # no "-0.0"
        return f"median {before:,.{digits}f} -> {after:,.{digits}f}"
    points = np.asarray(reference["quantiles"])
    low, high = np.quantile(sample, [0.1, 0.9])
    return (
        f"median {_number(before)} unchanged; p10-p90 {_number(points[10])}-"
        f"{_number(points[90])} -> {_number(low)}-{_number(high)}"
    )


def _categorical(
    name: str, reference: dict[str, Any], current: CurrentColumn, options: DriftOptions
) -> ColumnDrift:
    categories = list(reference["categories"])
    ref_counts = np.asarray([*reference["categories"].values(), reference["other"]], float)
    seen = current.accumulator.categories.count_of(categories)
    cur_counts = np.asarray([*seen, current.values - seen.sum()], float)
    details: dict[str, float | None] = {
        "jensenshannon": _js(ref_counts, cur_counts),
        "psi": psi(ref_counts, cur_counts),
    }
    chi2, chi2_p = pooled_chi_square(ref_counts, cur_counts)
    details["chisquare"] = chi2
    details["chisquare_p_value"] = chi2_p
    method = _chosen_method(name, "categorical", options)
    statistic = details[method]
    p_value = chi2_p if method == "chisquare" else _category_p(reference, current, options.seed)
    threshold = _threshold(name, method, options)
    drifted = method not in P_VALUE_METHODS and float(statistic or 0.0) > threshold
    text = _categorical_description(reference, current, ref_counts, cur_counts)
    return ColumnDrift(
        name, "categorical", method, statistic, threshold, drifted, text, p_value, details=details
    )


def _category_p(reference: dict[str, Any], current: CurrentColumn, seed: int) -> float:
    """The category tests and, by Bonferroni, one for what they dilute: a level the
    reference never saw (or, for a reference that kept only its top levels, a level that
    grew beyond what the reference allows)."""
    ref_cells, cur_cells = _cells(reference, current)
    p_value = category_tests(ref_cells, cur_cells, seed)
    if reference["other"]:
        extra = _growth_p(reference, current)
    else:
        extra = new_level_p(ref_cells[:-1], cur_cells[:-1])  # the last cell is the rest
    return min(1.0, 2 * min(p_value, extra))


def _growth_p(reference: dict[str, Any], current: CurrentColumn) -> float:
    """Has any category grown beyond what the reference allows? A top category's
    reference count is, if anything, biased up; one outside the top had at most the
    cut-off count. Both make this one-sided exact test conservative."""
    known = reference["categories"]
    cut = min(known.values())
    seen = current.accumulator.categories.frequencies()
    if not seen:
        return 1.0
    counts = np.asarray([c for _, c in seen], float)
    bounds = np.asarray([known.get(v, cut) for v, _ in seen], float)
    population = int(reference["values"] + current.values)
    upper = growth_p(counts, current.values, counts + bounds, population)
    return float(min(1.0, (len(known) + len(seen)) * np.min(upper)))


def _cells(reference: dict[str, Any], current: CurrentColumn) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides over cells that do not depend on which side is which.

    A reference that kept all its categories gives one cell per category of either
    side. One that kept only its top ones lumps the rest into "other"; top categories
    whose count is near the cut-off made the top partly by luck (their reference count
    is biased up), so they join "other" too.
    """
    known = reference["categories"]
    if reference["other"]:
        cut = min(known.values())
        kept = [k for k, count in known.items() if count >= max(3 * cut, cut + 6 * cut**0.5)]
        return _with_rest(np.asarray([known[k] for k in kept], float), reference["values"]), (
            _with_rest(current.accumulator.categories.count_of(kept).astype(float), current.values)
        )
    new = [c for v, c in current.accumulator.categories.frequencies() if v not in known]
    cur = [*current.accumulator.categories.count_of(list(known)), *new]
    ref = [*known.values(), *[0] * len(new)]
    return _with_rest(np.asarray(ref, float), reference["values"]), _with_rest(
        np.asarray(cur, float), current.values
    )


def _with_rest(counts: np.ndarray, total: int) -> np.ndarray:
    return np.append(counts, max(total - counts.sum(), 0.0))


def _js(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2: 0 for equal distributions, 1 for disjoint ones."""
    p, q = reference / reference.sum(), current / current.sum()
    middle = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / middle), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log2(q / middle), 0.0).sum()
    return float(np.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def _categorical_description(
    reference: dict[str, Any],
    current: CurrentColumn,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
) -> str:
    ref_share = ref_counts[:-1] / max(ref_counts.sum(), 1.0)
    cur_share = cur_counts[:-1] / max(cur_counts.sum(), 1.0)
    changes = [
        (abs(c - r), _share_change(k, r, c))
        for k, r, c in zip(reference["categories"], ref_share, cur_share, strict=True)
    ]
    new = [text for share, text in _new_categories(reference, current) if share >= 0.005]
    largest = max(changes, key=lambda change: change[0])[1] if changes else "no change"
    return "; ".join([*new[:2], largest])


def _share_change(category: str, before: float, after: float) -> str:
    if after == 0:
        return f"category {category!r} gone (was {_percent(before)})"
    return f"{category!r} {_percent(before)} -> {_percent(after)}"


def _new_categories(reference: dict[str, Any], current: CurrentColumn) -> list[tuple[float, str]]:
    known = set(reference["categories"])
    total = max(current.values, 1)
    label = "new category" if not reference["other"] else "category outside the reference top"
    unseen = [
        (v, c) for v, c in current.accumulator.categories.frequencies()[:200] if v not in known
    ]
    return [
        (count / total, f"{label} {value!r} ({_percent(count / total)})")
        for value, count in unseen[:5]
    ]


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.01 or share == 0 else f"{share:.1%}"


def _number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


# ---- the dataset ---------------------------------------------------------------------------


def detect_drift(
    profile: dict[str, Any],
    data: Any,
    options: DriftOptions | dict[str, Any] | None = None,
    columns: list[str] | None = None,
    predictions: Any = None,
    prediction_profile: dict[str, Any] | None = None,
) -> DriftResult:
    """Compare new data (a CSV/Parquet path or a DataFrame) with a training profile.

    `columns` limits the check (default: every column of the profile and of the
    data); `predictions` (an array of the champion's predictions on the new data)
    with `prediction_profile` (from profile_values on its predictions at training
    time) adds prediction drift, reported apart like target drift.
    """
    if not isinstance(options, DriftOptions):
        options = DriftOptions.from_config(options)
    found, wanted = scan_data(profile, data, options, columns)
    return judge_drift(profile, found, wanted, options, predictions, prediction_profile)


def scan_data(
    profile: dict[str, Any], data: Any, options: DriftOptions, columns: list[str] | None = None
) -> tuple[CurrentData, list[str]]:
    """The new data's side of detect_drift (one pass), and the columns to judge."""
    source = open_source(data)
    wanted, compared = drift_columns(profile, source.columns, options, columns)
    current, rows, threshold = scan_current(source, profile["columns"], compared, options.seed)
    return CurrentData(current, rows, threshold, source.columns), wanted


def drift_columns(
    profile: dict[str, Any],
    present: list[str],
    options: DriftOptions,
    columns: list[str] | None = None,
) -> tuple[list[str], list[str]]:
    """(the columns judged, those of them compared: in both the profile and the data)."""
    reference = profile["columns"]
    wanted = columns or list(dict.fromkeys([*reference, *present]))
    wanted = [c for c in wanted if not options.override(c).ignore]
    return wanted, [c for c in wanted if c in reference and c in present]


@dataclass
class CurrentData:
    """The new data's side of a drift check, however computed (a local scan, a cluster):
    per compared column its statistics, the row count, the sample's key threshold, and
    the data's column names."""

    columns: dict[str, CurrentColumn]
    rows: int
    threshold: float
    present: list[str]


def judge_drift(
    profile: dict[str, Any],
    found: CurrentData,
    wanted: list[str],
    options: DriftOptions,
    predictions: Any = None,
    prediction_profile: dict[str, Any] | None = None,
) -> DriftResult:
    """The drift decision from the new data's statistics (see detect_drift)."""
    reference, target = profile["columns"], profile.get("target")
    current, rows, threshold = found.columns, found.rows, found.threshold
    compared = list(current)
    results = [
        compare_column(
            c, reference[c], current[c], options, threshold, "target" if c == target else "feature"
        )
        for c in compared
    ]
    features = [r for r in results if r.role == "feature"]
    decide(features, options)
    target_result = next((r for r in results if r.role == "target"), None)
    if target_result is not None:
        decide([target_result], options)
    features += _presence(wanted, reference, found.present, target)
    prediction = _prediction_drift(predictions, prediction_profile, options)
    return _dataset(features, target_result, prediction, options, profile, rows)


def decide(results: list[ColumnDrift], options: DriftOptions) -> None:
    """Judge each column's test, Holm-adjusted across these columns (family-wise 5%).

    A column's p-value combines its shape test with its null-share test (weighted
    Bonferroni, 0.8 / 0.2) when either side has nulls. An effect size above its
    threshold, or a null share that moved by more than `null_threshold`, drifts only
    when that p-value is significant: Holm-adjusted p < FAMILY_LEVEL and raw p <
    COLUMN_ALPHA. So a run of same-distribution columns raises any alarm at most 5% of
    the time, by construction, whatever its number of columns. A p-value method
    drifts when its Holm-adjusted p-value is below its threshold.
    """
    tested = [r for r in results if r.p_value is not None]
    family = [_family_p(r) for r in tested]
    for result, raw, adjusted in zip(tested, family, adjusted_p_values(family, HOLM), strict=True):
        result.p_adjusted = adjusted
        if result.method in P_VALUE_METHODS:
            result.drifted = adjusted < (result.threshold or 0.0)
            continue
        significant = adjusted < FAMILY_LEVEL and raw < COLUMN_ALPHA
        if result.method in EFFECT_METHODS:
            result.drifted = result.drifted and significant
        if significant:
            _null_drift(result, options)


def _family_p(result: ColumnDrift) -> float:
    """The column's test and its null share's, weighted Bonferroni when there are nulls."""
    shape = result.p_value or 0.0
    null_p = result.details.get("null_p_value")
    if result.method in P_VALUE_METHODS or null_p is None or not _has_nulls(result):
        return shape
    return min(1.0, shape / (1 - NULL_SHARE), null_p / NULL_SHARE)


def _has_nulls(result: ColumnDrift) -> bool:
    before = result.details.get("null_fraction_reference") or 0.0
    return bool(before or result.details.get("null_fraction_current"))


def _presence(
    wanted: list[str], reference: dict[str, Any], present: list[str], target: str | None
) -> list[ColumnDrift]:
    results = []
    for name in wanted:
        if name == target:
            continue
        if name in reference and name not in present:
            results.append(
                ColumnDrift(
                    name,
                    reference[name]["kind"],
                    "presence",
                    None,
                    None,
                    True,
                    "column removed: in the champion's profile, not in the new data",
                    status="removed",
                )
            )
        elif name not in reference and name in present:
            results.append(
                ColumnDrift(
                    name,
                    "unknown",
                    "presence",
                    None,
                    None,
                    True,
                    "column added: no profile from the champion's training data",
                    status="added",
                )
            )
    return results


def _prediction_drift(
    predictions: Any, profile: dict[str, Any] | None, options: DriftOptions
) -> ColumnDrift | None:
    if predictions is None or profile is None:
        return None
    name = next(iter(profile["columns"]))
    table = pa.table({name: pa.array(np.asarray(predictions))})
    reference = profile["columns"]
    current, _, threshold = scan_current(open_source(table), reference, [name], options.seed)
    result = compare_column(name, reference[name], current[name], options, threshold, "prediction")
    decide([result], options)
    return result


def _dataset(
    features: list[ColumnDrift],
    target: ColumnDrift | None,
    prediction: ColumnDrift | None,
    options: DriftOptions,
    profile: dict[str, Any],
    rows: int,
) -> DriftResult:
    drifted = [f for f in features if f.drifted]
    share = _fraction(len(drifted), len(features))
    changed = any(f.status != "compared" for f in features)
    ordered = sorted(features, key=lambda f: (not f.drifted, f.column))
    return DriftResult(
        columns=ordered,
        target=target,
        prediction=prediction,
        drifted_share=share,
        share_threshold=options.share,
        dataset_drift=share > options.share or changed,
        schema_changed=changed,
        action=options.action,
        retrain_on_drift=options.retrain_on_drift,
        reference_rows=int(profile.get("rows", 0)),
        current_rows=rows,
    )
