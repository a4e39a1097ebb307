"""The encoder's input: each categorical value as its text, missing where missing, in object
columns, the same whatever the reader produced (pyarrow strings, objects, booleans, pandas
categories), computed once per distinct value; a model scores unseen categories and NaN as
before."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ci_ml.training import build_pipeline, model_features


def value_by_value(x: pd.DataFrame) -> pd.DataFrame:
    """The conversion as it was written first: str() of each cell, None where missing."""
    out = x.copy()
    for column in x.columns:
        if pd.api.types.is_numeric_dtype(x[column]) and not pd.api.types.is_bool_dtype(x[column]):
            continue
        cells = x[column].astype(object)
        out[column] = cells.where(cells.notna(), other=None).map(
            lambda v: v if v is None else str(v)
        )
    return out


def table(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", None], size=rows)
    return pd.DataFrame(
        {
            "number": rng.normal(size=rows),
            "colour": pd.Series(colour, dtype="str"),
            "shape": pd.Series(rng.choice(["round", "square", None], size=rows), dtype=object),
            "flag": rng.choice([True, False], size=rows),
            "maybe": pd.Series(rng.choice([True, False, None], size=rows), dtype=object),
            "size": pd.Categorical(rng.choice(["S", "M", "L", None], size=rows)),
            "mixed": pd.Series(
                rng.choice([1, 1.0, "1", True, None, np.nan], size=rows), dtype=object
            ),
            "empty": pd.Series([None] * rows, dtype=object),
        },
        index=np.arange(rows)[::-1] * 7,  # not 0..n-1: the index is kept as it was
    )


def test_each_value_becomes_its_text_in_an_object_column_missing_as_before() -> None:
    x = table()
    converted, expected = model_features(x), value_by_value(x)
    for column in ("colour", "shape", "flag", "maybe", "size", "mixed", "empty"):
        cells = converted[column]
        # objects, not pandas 3's `str`: scikit-learn would convert those again at every step
        assert cells.dtype == object, column
        assert cells.index.equals(x.index)
        assert cells.isna().tolist() == x[column].isna().tolist(), column
        # a missing value as before: NaN (which the imputer fills) in a column with text
        # under pandas 3, None (which the encoder keeps as a category) in one without
        assert [type(v) for v in cells] == [type(v) for v in expected[column]], column
        texts = [None if pd.isna(v) else v for v in expected[column]]
        assert [None if pd.isna(v) else v for v in cells] == texts, column
    assert converted["mixed"].dropna().isin(["1", "1.0", "True"]).all()  # 1, 1.0, True apart
    assert converted["flag"].tolist()[:3] == [str(v) for v in x["flag"].tolist()[:3]]
    assert converted["number"].equals(x["number"])


def test_a_model_fit_on_the_objects_is_the_model_fit_on_value_by_value_text() -> None:
    x, later = table(seed=3), table(rows=200, seed=4)
    y = (x["number"] + (x["shape"] == "round")).gt(0.5).astype(int)
    fitted = [
        build_pipeline(LogisticRegression(max_iter=500), x, "auto").fit(features, y)
        for features in (model_features(x), value_by_value(x))
    ]
    encoders = [m[0].named_transformers_["categorical"][-1].categories_ for m in fitted]
    for new, old in zip(*encoders, strict=True):
        np.testing.assert_array_equal(new, old)
    np.testing.assert_array_equal(
        fitted[0].predict_proba(model_features(later)),
        fitted[1].predict_proba(value_by_value(later)),
    )


def test_predictions_on_unseen_categories_and_nan_are_unchanged() -> None:
    x, later = table(seed=1), table(rows=200, seed=2)
    y = (x["number"] + (x["colour"] == "red")).gt(0.5).astype(int)
    later["colour"] = later["colour"].where(later.index % 3 != 0, "violet")  # unseen
    later.loc[later.index[:20], "shape"] = np.nan
    model = build_pipeline(LogisticRegression(max_iter=500), x, "auto").fit(model_features(x), y)
    np.testing.assert_array_equal(
        model.predict_proba(model_features(later)), model.predict_proba(value_by_value(later))
    )
