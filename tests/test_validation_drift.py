"""Drift against a training profile: statistics, edge cases, determinism, reporting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from ci_ml.errors import ConfigError
from ci_ml.validation import (
    DriftResult,
    build_profile,
    detect_drift,
    profile_values,
)
from ci_ml.validation.drift import benjamini_hochberg
from ci_ml.validation.profile import TOP_CATEGORIES
from ci_ml.validation.twosample import ks_p_value, pooled_chi_square

ROWS = 5000


def table(seed: int, rows: int = ROWS, shift: float = 0.0, **extra: Any) -> pa.Table:
    rng = np.random.default_rng(seed)
    islands = ["Biscoe", "Dream", "Torgersen"]
    data: dict[str, Any] = {
        "age": rng.normal(41 + shift, 8, rows),
        "weight": rng.gamma(4.0, 10.0, rows),
        "island": rng.choice(islands, rows, p=[0.5, 0.3, 0.2]),
        "label": rng.integers(0, 2, rows),
    }
    data.update(extra)
    return pa.table(data)


def write(tmp_path: Path, name: str, data: pa.Table) -> Path:
    path = tmp_path / name
    if name.endswith(".csv"):
        pacsv.write_csv(data, path)
    else:
        pq.write_table(data, path)
    return path


def drift(tmp_path: Path, reference: pa.Table, current: pa.Table, **kwargs: Any) -> DriftResult:
    profile = build_profile(write(tmp_path, "ref.parquet", reference), target="label")
    return detect_drift(profile, write(tmp_path, "cur.parquet", current), **kwargs)


def column(result: DriftResult, name: str) -> Any:
    return next(c for c in result.columns if c.column == name)


def test_same_distribution_does_not_drift(tmp_path: Path) -> None:
    result = drift(tmp_path, table(1), table(2))
    assert not result.dataset_drift and result.drifted_columns == [] and result.passed
    assert {c.method for c in result.columns} == {"wasserstein", "jensenshannon"}
    assert result.target is not None and result.target.column == "label"
    assert not result.target.drifted and result.target.kind == "categorical"


def test_a_shifted_column_drifts_with_a_plain_description(tmp_path: Path) -> None:
    result = drift(tmp_path, table(1), table(2, shift=16))
    age = column(result, "age")
    assert age.drifted and age.statistic > age.threshold == 0.1
    assert age.description == "median 41 -> 57"
    assert age.p_value is not None and age.p_adjusted is not None and age.p_adjusted < 1e-6
    assert result.columns[0].column == "age"  # drifted columns come first
    assert result.drifted_share == pytest.approx(1 / 3) and result.dataset_drift


def test_categories_present_on_one_side_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    islands = rng.choice(["Biscoe", "Dream", "Biscoe-2"], ROWS, p=[0.6, 0.37, 0.03])
    current = table(2).set_column(2, "island", pa.array(islands))
    island = column(drift(tmp_path, table(1), current), "island")
    assert island.drifted and island.method == "jensenshannon"
    assert "new category 'Biscoe-2' (3%)" in island.description
    assert "category 'Torgersen' gone (was 20%)" in island.description


def test_constant_columns(tmp_path: Path) -> None:
    same = drift(tmp_path, table(1, flag=np.full(ROWS, 5.0)), table(2, flag=np.full(ROWS, 5.0)))
    assert not column(same, "flag").drifted and column(same, "flag").method == "constant"
    moved = np.where(np.arange(ROWS) % 5 == 0, 6.0, 5.0)
    changed = column(
        drift(tmp_path, table(1, flag=np.full(ROWS, 5.0)), table(2, flag=moved)), "flag"
    )
    assert changed.drifted and changed.statistic == pytest.approx(0.2)
    assert changed.description == "was constant 5, now 20% of values differ"
    constant_now = column(drift(tmp_path, table(1), table(2, age=np.full(ROWS, 41.0))), "age")
    assert constant_now.drifted


def nulls(rows: int) -> pa.Array:
    return pa.array([None] * rows, pa.float64())


def test_all_null_columns(tmp_path: Path) -> None:
    both = column(drift(tmp_path, table(1, gone=nulls(ROWS)), table(2, gone=nulls(ROWS))), "gone")
    assert (both.kind, both.drifted, both.description) == ("empty", False, "all null in both")
    filled = column(
        drift(tmp_path, table(1, gone=nulls(ROWS)), table(2, gone=np.ones(ROWS))), "gone"
    )
    assert filled.drifted and filled.description == "was all null, now 100% filled"
    emptied = drift(tmp_path, table(1), table(2).set_column(0, "age", nulls(ROWS)))
    age = column(emptied, "age")
    assert age.drifted and age.description == "now all null (was 0% null)"


def test_null_fraction_change_drifts(tmp_path: Path) -> None:
    ages = table(2)["age"].to_pylist()
    ages[: ROWS // 4] = [None] * (ROWS // 4)
    age = column(drift(tmp_path, table(1), table(2).set_column(0, "age", pa.array(ages))), "age")
    assert age.drifted and age.description.startswith("nulls 0% -> 25%")


def test_columns_added_and_removed_since_the_champion(tmp_path: Path) -> None:
    current = table(2).drop_columns(["weight"]).append_column("colour", pa.array(["red"] * ROWS))
    result = drift(tmp_path, table(1), current)
    removed, added = column(result, "weight"), column(result, "colour")
    assert (removed.status, removed.drifted) == ("removed", True)
    assert (added.status, added.drifted) == ("added", True)
    assert "no profile" in added.description
    assert result.dataset_drift and result.schema_changed
    assert not result.passed  # a profile that no longer covers the data is a verdict


def test_a_reference_of_a_few_dozen_rows_needs_a_significant_effect(tmp_path: Path) -> None:
    small = table(1, rows=40)
    profile = build_profile(small, target="label")
    assert profile["columns"]["age"]["cdf_exact"] is True
    calm = detect_drift(profile, write(tmp_path, "calm.parquet", table(2, rows=60)))
    assert {c.method for c in calm.columns} == {"wasserstein", "jensenshannon"}
    assert not calm.drifted_columns
    moved_path = write(tmp_path, "moved.parquet", table(2, rows=60, shift=20))
    age = column(detect_drift(profile, moved_path), "age")
    assert age.drifted and age.p_value < 0.005 and age.p_adjusted < 0.05
    assert age.statistic > age.threshold == 0.1 and age.details["ks"] > 0.5
    by_ks = detect_drift(profile, moved_path, {"methods": {"numeric": "ks"}})
    age = column(by_ks, "age")
    assert age.method == "ks" and age.drifted and age.p_adjusted < 0.05 == age.threshold
    assert age.statistic > 0.5  # the KS distance itself


def test_results_are_deterministic_and_batch_independent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = write(tmp_path, "ref.parquet", table(1, rows=60_000))
    current = write(tmp_path, "cur.parquet", table(2, rows=60_000, shift=2))
    first = detect_drift(build_profile(reference), current).to_dict()
    assert detect_drift(build_profile(reference), current).to_dict() == first
    monkeypatch.setattr("ci_ml.validation.scan.PARQUET_BATCH_ROWS", 7_777)
    assert detect_drift(build_profile(reference), current).to_dict() == first


def test_profile_is_small_and_json_ready(tmp_path: Path) -> None:
    many = [f"c{i}" for i in range(500)]
    data = table(1, rows=60_000, code=np.random.default_rng(0).choice(many, 60_000))
    profile = build_profile(data, target="label")
    assert json.loads(json.dumps(profile)) == profile
    for name in profile["columns"]:
        assert len(json.dumps(profile["columns"][name])) < 5000, name
    assert len(profile["columns"]["code"]["categories"]) == TOP_CATEGORIES == 200
    assert profile["columns"]["code"]["other"] > 0


def test_csv_reference_and_parquet_current(tmp_path: Path) -> None:
    profile = build_profile(write(tmp_path, "ref.csv", table(1)), target="label")
    assert profile["columns"]["age"]["kind"] == "numeric"
    assert profile["columns"]["island"]["kind"] == "categorical"
    result = detect_drift(profile, write(tmp_path, "cur.parquet", table(2)))
    assert not result.drifted_columns


def test_overrides_of_method_threshold_and_ignore(tmp_path: Path) -> None:
    options = {
        "action": "block",
        "columns": {
            "age": {"method": "psi", "threshold": 0.5},
            "weight": {"ignore": True},
            "island": {"method": "chisquare"},
        },
    }
    result = drift(tmp_path, table(1), table(2, shift=4), options=options)
    age = column(result, "age")
    assert (age.method, age.threshold) == ("psi", 0.5) and not age.drifted
    assert "weight" not in [c.column for c in result.columns]
    assert column(result, "island").method == "chisquare"
    assert result.action == "block" and result.passed
    with pytest.raises(ConfigError, match="does not apply to a numeric column"):
        drift(tmp_path, table(1), table(2), options={"columns": {"age": {"method": "chisquare"}}})
    with pytest.raises(ConfigError, match=r"drift.action: expected one of"):
        drift(tmp_path, table(1), table(2), options={"action": "explode"})
    with pytest.raises(
        ConfigError,
        match=r"drift.columns.age: unknown key 'treshold' \(did you mean 'threshold'\?\)",
    ):
        drift(tmp_path, table(1), table(2), options={"columns": {"age": {"treshold": 1}}})


def test_block_fails_warn_passes(tmp_path: Path) -> None:
    blocked = drift(tmp_path, table(1), table(2, shift=16), options={"action": "block"})
    assert blocked.dataset_drift and not blocked.passed
    warned = drift(tmp_path, table(1), table(2, shift=16), options={"retrain_on_drift": True})
    assert warned.passed and warned.retrain
    assert json.loads(json.dumps(warned.to_dict()))["retrain"] is True


def test_share_threshold_decides_the_dataset(tmp_path: Path) -> None:
    result = drift(tmp_path, table(1), table(2, shift=16), options={"share": 0.5})
    assert result.drifted_share == pytest.approx(1 / 3) and not result.dataset_drift


def test_target_drift_is_reported_apart(tmp_path: Path) -> None:
    current = table(2).set_column(3, "label", pa.array(np.ones(ROWS, dtype=np.int64)))
    result = drift(tmp_path, table(1), current)
    assert result.target is not None and result.target.drifted
    assert "label" not in [c.column for c in result.columns] and not result.dataset_drift


def test_prediction_drift(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    reference = profile_values(rng.random(2000), "prediction")
    data = write(tmp_path, "cur.parquet", table(2))
    stable = detect_drift(
        reference, data, predictions=rng.random(ROWS), prediction_profile=reference
    )
    assert stable.prediction is not None and not stable.prediction.drifted
    moved = detect_drift(
        reference, data, predictions=rng.random(ROWS) * 0.3, prediction_profile=reference
    )
    assert moved.prediction is not None and moved.prediction.drifted
    assert moved.prediction.role == "prediction"


def test_strings_in_a_numeric_column_are_named(tmp_path: Path) -> None:
    reference = write(tmp_path, "ref.csv", table(1))
    profile = build_profile(reference)
    path = tmp_path / "cur.csv"
    path.write_text("age,weight,island,label\n" + "old,1,Dream,0\n" * 50, encoding="utf-8")
    age = column(detect_drift(profile, path), "age")
    assert age.drifted and "50 values are not numbers" in age.description


def test_statistics_against_known_values() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.16 / 3, 0.16 / 3, 0.5]
    )
    reference, current = np.array([30.0, 30.0, 40.0]), np.array([40.0, 30.0, 30.0])
    statistic, p_value = pooled_chi_square(reference, current)
    expected = chi2_contingency(np.vstack([reference, current]), correction=False)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))
    # thin cells (expected count < 5) are pooled before the chi-square approximation
    assert pooled_chi_square(np.array([50.0, 1, 1, 0]), np.array([50.0, 0, 1, 2]))[1] > 0.5
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=50), rng.normal(0.3, 1, size=50)
    scipy_ks = ks_2samp(a, b, method="asymp")
    assert ks_p_value(scipy_ks.statistic, 50, 50) == pytest.approx(scipy_ks.pvalue)


def test_a_profile_that_kept_50_categories_still_judges_sensibly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Profiles of existing champions kept the top 50 categories and lumped the rest."""
    many = [f"c{i}" for i in range(500)]
    rng = np.random.default_rng(0)
    monkeypatch.setattr("ci_ml.validation.profile.TOP_CATEGORIES", 50)
    old = build_profile(table(1, code=rng.choice(many, ROWS)))
    assert len(old["columns"]["code"]["categories"]) == 50 and old["columns"]["code"]["other"]
    monkeypatch.undo()
    same = detect_drift(old, write(tmp_path, "same.parquet", table(2, code=rng.choice(many, ROWS))))
    assert not column(same, "code").drifted
    codes = np.where(rng.random(ROWS) < 0.3, "c7", rng.choice(many, ROWS))
    moved = detect_drift(old, write(tmp_path, "moved.parquet", table(2, code=codes)))
    assert column(moved, "code").drifted and column(moved, "code").p_value < 0.005


def test_drift_is_decided_family_wise_across_the_columns() -> None:
    """Twenty columns, each past its effect threshold with p = 0.004: Benjamini-Hochberg
    would flag all twenty; Holm at a family-wise 5% (first step 0.05 / 20) flags none,
    and one column with p = 0.001 among them is flagged alone."""
    from ci_ml.validation.drift import ColumnDrift, DriftOptions, decide

    def column(i: int, p_value: float) -> ColumnDrift:
        return ColumnDrift(f"c{i}", "numeric", "wasserstein", 0.3, 0.1, True, "", p_value)

    even = [column(i, 0.004) for i in range(20)]
    decide(even, DriftOptions())
    assert not any(c.drifted for c in even)
    assert all(c.p_adjusted == pytest.approx(0.08) for c in even)
    mixed = [column(0, 0.001), *(column(i, 0.5) for i in range(1, 20))]
    decide(mixed, DriftOptions())
    assert [c.column for c in mixed if c.drifted] == ["c0"]


def test_new_level_test_is_exact() -> None:
    """k rows of a level the reference lacks: all k on the current side with probability
    C(m, k) / C(N, k), summed over every level at least that big."""
    from math import comb

    from ci_ml.validation.twosample import new_level_p

    reference = np.array([300.0, 200.0, 0.0])
    current = np.array([290.0, 200.0, 10.0])
    assert new_level_p(reference, current) == pytest.approx(comb(500, 10) / comb(1000, 10))
    assert new_level_p(reference, np.array([300.0, 200.0, 0.0])) == 1.0


def test_a_new_category_of_3_percent_in_500_rows_drifts(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    levels = np.array(["a", "b", "c", "d", "e"])
    before = levels[rng.choice(5, 500, p=[0.4, 0.25, 0.2, 0.1, 0.05])]
    after = levels[rng.choice(5, 500, p=[0.4, 0.25, 0.2, 0.1, 0.05])].astype(object)
    after[:15] = "brand-new"
    result = detect_drift(build_profile(pa.table({"kind": before})), pa.table({"kind": after}))
    (kind,) = result.columns
    assert kind.drifted and "new category 'brand-new' (3%)" in kind.description
