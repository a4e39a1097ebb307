"""Paired bootstrap: ci_ml.comparison against a per-resample scikit-learn loop.

    python benchmarks/bootstrap_bench.py [--suite labels|ranking] [--rows 1000000]
                                          [--resamples 1000] [--loop-resamples 20]
                                          [--threads 1]

Suites: "labels" (accuracy, f1_macro, balanced_accuracy, neg_log_loss,
precision_macro on 3 classes; the default) and "ranking" (binary roc_auc and
average_precision on continuous scores).

Each side runs in its own subprocess so its peak memory (tracemalloc peak of
the bootstrap call, and the process's ru_maxrss) is its own. The loop is timed
on --loop-resamples resamples (the same resample indices) and extrapolated
linearly to --resamples; the output says so. --threads shares the vectorised
side's chunks among that many threads (`resampled_values`; one chunk in flight each).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    precision_score,
    roc_auc_score,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ci_ml.comparison.bootstrap import (
    paired_bootstrap,
    resample_indices,
    resampled_values,
)
from ci_ml.comparison.metrics import Predictions, resolve_metric

N_CLASSES = 3
Loop = Callable[[np.ndarray, Predictions], float]

# The straightforward way: one scikit-learn call per metric, resample and model.
LABEL_LOOP: dict[str, Loop] = {
    "accuracy": lambda y, m: accuracy_score(y, m.predict),
    "f1_macro": lambda y, m: f1_score(y, m.predict, average="macro"),
    "balanced_accuracy": lambda y, m: balanced_accuracy_score(y, m.predict),
    "neg_log_loss": lambda y, m: -log_loss(y, m.predict_proba),
    "precision_macro": lambda y, m: precision_score(y, m.predict, average="macro"),
}
RANKING_LOOP: dict[str, Loop] = {
    "roc_auc": lambda y, m: roc_auc_score(y, m.decision_function),
    "average_precision": lambda y, m: average_precision_score(y, m.decision_function),
}


def label_data(n_rows: int) -> tuple[np.ndarray, Predictions, Predictions]:
    """3 classes, labels and probability matrices;"""
    rng = np.random.default_rng(0)
    y = rng.integers(0, N_CLASSES, n_rows)

    def model(sharpness: float) -> Predictions:
        logits = rng.normal(0, 1, (n_rows, N_CLASSES))
        logits[np.arange(n_rows), y] += sharpness
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return Predictions(
            predict=proba.argmax(axis=1), predict_proba=proba, classes=np.arange(N_CLASSES)
        )

    return y, model(1.3), model(1.0)


def ranking_data(n_rows: int) -> tuple[np.ndarray, Predictions, Predictions]:
    """binary, continuous decision scores (about one distinct score per row);"""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n_rows)

    def model(noise: float) -> Predictions:
        scores = y + rng.normal(0, noise, n_rows)
        return Predictions(decision_function=scores, classes=np.array([0, 1]))

    return y, model(1.0), model(1.2)


Data = Callable[[int], tuple[np.ndarray, Predictions, Predictions]]
SUITES: dict[str, tuple[Data, dict[str, Loop]]] = {
    "labels": (label_data, LABEL_LOOP),
    "ranking": (ranking_data, RANKING_LOOP),
}


def loop_values(
    loop: dict[str, Loop], y: np.ndarray, models: list[Predictions], idx: np.ndarray
) -> np.ndarray:
    out = np.empty((len(loop), len(models), len(idx)))
    for b, rows in enumerate(idx):
        yb = y[rows]
        for k, model in enumerate(models):
            picked = model.take(rows)
            for i, func in enumerate(loop.values()):
                out[i, k, b] = func(yb, picked)
    return out


def measured(func: Any) -> dict[str, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "peak_mb": peak / 2**20, "maxrss_mb": maxrss_kb / 1024}


def part(name: str, args: argparse.Namespace) -> dict[str, Any]:
    make_data, loop = SUITES[args.suite]
    y, challenger, champion = make_data(args.rows)
    names = list(loop)
    if name == "vectorised":
        return measured(
            lambda: paired_bootstrap(
                names,
                y,
                challenger,
                champion,
                n_resamples=args.resamples,
                seed=0,
                threads=args.threads,
            )
        )
    idx = resample_indices(args.rows, 0, 0, args.loop_resamples)
    holder: dict[str, np.ndarray] = {}
    result: dict[str, Any] = measured(
        lambda: holder.update(v=loop_values(loop, y, [challenger, champion], idx))
    )
    metrics = [resolve_metric(m) for m in names]
    fast, _ = resampled_values(metrics, y, [challenger, champion], args.loop_resamples, 0)
    result["agree"] = bool(np.allclose(np.stack(fast), holder["v"], rtol=1e-9, atol=1e-12))
    return result


def run_part(name: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--part", name, "--rows", str(args.rows)]
    cmd += ["--suite", args.suite, "--threads", str(args.threads)]
    cmd += ["--resamples", str(args.resamples), "--loop-resamples", str(args.loop_resamples)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--loop-resamples", type=int, default=20)
    parser.add_argument("--suite", choices=list(SUITES), default="labels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--part", choices=["vectorised", "loop"])
    args = parser.parse_args()
    if args.part:
        print(json.dumps(part(args.part, args)))
        return
    fast, loop = run_part("vectorised", args), run_part("loop", args)
    per_resample = loop["seconds"] / args.loop_resamples
    loop_total = per_resample * args.resamples
    print(
        f"paired bootstrap, {args.rows:,} rows x {args.resamples:,} resamples, 2 models, "
        f"{SUITES[args.suite][0].__doc__} metrics: {', '.join(SUITES[args.suite][1])}"
    )
    print(
        f"vectorised on {args.threads} thread(s): {fast['seconds']:.2f} s (incl. exact point "
        "values), "
        f"tracemalloc peak {fast['peak_mb']:.0f} MiB, process maxrss {fast['maxrss_mb']:.0f} MiB"
    )
    print(
        f"sklearn loop: {loop['seconds']:.1f} s for {args.loop_resamples} resamples "
        f"({per_resample:.2f} s/resample), extrapolated linearly to {args.resamples:,}: "
        f"{loop_total:.0f} s; tracemalloc peak {loop['peak_mb']:.0f} MiB, "
        f"maxrss {loop['maxrss_mb']:.0f} MiB"
    )
    print(f"loop values equal the vectorised ones on those resamples: {loop['agree']}")
    print(f"speed-up: {loop_total / fast['seconds']:.0f}x")


if __name__ == "__main__":
    main()
