"""The Poisson bootstrap with weights from a seeded hash of each row's key.

Resample b gives row r the weight w = Poisson(1) drawn from the uniform
number hash(key(r), seed, b). Weights are a pure function of the row's key, so
a resample is the same however the rows are split into files, partitions or
Arrow batches, in whatever order, and however often a task is retried; the
local engine and the Spark engine run this very code on their batches.

The row key hashes the values of the key columns (default: every column the
evaluation reads). Identical rows get identical weights; give
`evaluation.row_key` (an id column) when the eval data repeats rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
# Poisson(1) CDF up to 20 (P(w > 20) < 1e-19): weights by inverse transform
_CDF = np.cumsum([math.exp(-1) / math.factorial(k) for k in range(21)])


def splitmix64(x: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mixer (Steele et al., SplitMix64's finaliser)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def column_hash(values: pd.Series) -> np.ndarray:
    """uint64 per value, the same for the same value whatever the reader.

    Numbers (and booleans) hash their float64 value, so an int32 read by Spark
    and an int64 read by pyarrow agree; everything else hashes its text.
    """
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        floats = np.asarray(values.astype("float64"), dtype=np.float64) + 0.0  # -0.0 -> 0.0
        floats = np.where(np.isnan(floats), np.nan, floats)
        return splitmix64(floats.view(np.uint64))
    text = np.asarray(values.astype(str), dtype=object)
    text[np.asarray(values.isna())] = "\x00null"  # None, NaN and pd.NA: one missing value
    return np.asarray(pd.util.hash_array(text, categorize=False), dtype=np.uint64)


def row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One uint64 key per row from the named columns (their order does not matter)."""
    key = np.zeros(len(frame), dtype=np.uint64)
    for name in sorted(columns):
        key = splitmix64(key ^ column_hash(frame[name]))
    return key


def resample_salts(seed: int, start: int, stop: int) -> np.ndarray:
    """One salt per resample start..stop-1, from the seed."""
    ids = np.arange(start, stop, dtype=np.uint64)
    with np.errstate(over="ignore"):
        base = splitmix64(np.array([seed], dtype=np.uint64) * _M1)
    return splitmix64(ids ^ base)


def poisson_weights(keys: np.ndarray, seed: int, start: int, stop: int) -> np.ndarray:
    """Weights of resamples start..stop-1 for rows with `keys`: (stop - start, n) float64."""
    salts = resample_salts(seed, start, stop)
    mixed = splitmix64(keys[None, :] ^ salts[:, None])
    uniform = (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.searchsorted(_CDF, uniform, side="right").astype(np.float64)
