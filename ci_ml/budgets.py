"""Budgets: what a model costs to ship and to run, measured for both contenders.

Latency is the median of several timed predictions on 1,000 evaluation rows
(drawn with replacement when there are fewer), after one warm-up call, in
milliseconds per 1,000 rows. Model size is the model file's size in MB.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

BUDGETS = ("model_size_mb", "latency_ms_per_1k_rows")
LATENCY_ROWS = 1000
LATENCY_REPEATS = 5


def latency_ms_per_1k_rows(model: Any, x: pd.DataFrame, repeats: int = LATENCY_REPEATS) -> float:
    rows = x.sample(n=LATENCY_ROWS, replace=len(x) < LATENCY_ROWS, random_state=0)
    model.predict(rows)  # warm-up: lazy imports and caches are not the model's latency
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(rows)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000.0


def size_mb(size_bytes: int | None) -> float | None:
    return None if size_bytes is None else size_bytes / 1_000_000


def budget_entry(challenger: float | None, champion: float | None) -> dict[str, Any]:
    ratio = challenger / champion if challenger is not None and champion else None
    return {"challenger": challenger, "champion": champion, "ratio": ratio}
