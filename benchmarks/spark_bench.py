"""Evaluate-with-bootstrap at scale: the Spark engine beside the local engine.

    python benchmarks/spark_bench.py [--rows 1000000,10000000] [--resamples 200]

On the same Parquet folder (written once under --data), each case runs in its
own subprocess so its peak memory (ru_maxrss of the Python process, i.e. the
runner's driver; the Spark server is a separate JVM) is its own:

- spark-poisson: `engine: spark` on local[2] (mergeable summaries, mapInArrow);
- local-poisson: `engine: local` with `bootstrap: poisson` (streamed batches);
- local-percentile: today's path, the whole table in pandas, percentile bootstrap;
- naive-topandas: Spark reads, toPandas() to the driver, today's local path;
- check-spark / check-local-poisson: the whole `ci-ml check` (validate, train,
  evaluate, gate, report) with `engine: spark` (train on a 100,000-row seeded
  sample) or `engine: local` + `bootstrap: poisson` (one Parquet file: 1M rows
  only), train and eval both the benchmark rows.

Metrics: accuracy, neg_log_loss, roc_auc; challenger LogisticRegression,
champion a depth-3 tree, both fitted on a 50,000-row sample.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FEATURES = ("a", "b", "c", "d")
METRICS = ("accuracy", "neg_log_loss", "roc_auc")
FILE_ROWS = 1_000_000
CASES = ("spark-poisson", "local-poisson", "local-percentile", "naive-topandas")
CHECKS = ("check-spark", "check-local-poisson")


def write_data(folder: Path, rows: int) -> Path:
    """`rows` rows as Parquet files of at most 1M rows each (written once)."""
    target = folder / f"rows-{rows}"
    if (target / "_SUCCESS").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, FILE_ROWS)):
        frame = _rows(min(FILE_ROWS, rows - start), seed=index, first_id=start)
        frame.to_parquet(target / f"part-{index:05d}.parquet", index=False)
    (target / "_SUCCESS").write_text("")
    return target


def _rows(n: int, seed: int, first_id: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    frame = pd.DataFrame(x, columns=list(FEATURES))
    frame["y"] = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=n) > 0).astype(np.int64)
    frame["id"] = np.arange(first_id, first_id + n, dtype=np.int64)
    return frame


def _models() -> list[Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    sample = _rows(50_000, seed=99, first_id=-50_000)
    x, y = sample[list(FEATURES)], sample["y"]
    return [LogisticRegression().fit(x, y), DecisionTreeClassifier(max_depth=3).fit(x, y)]


def run_check(case: str, folder: Path, resamples: int) -> dict[str, Any]:
    """`ci-ml check` in this process, on a project whose data is the benchmark rows."""
    from ci_ml.cli import main as ci_ml

    project = folder.parent / f"{folder.name}-{case}"
    project.mkdir(exist_ok=True)
    if case == "check-spark":
        data = str(folder)
        engine: Any = {
            "name": "spark",
            "spark": {"remote": "local[2]", "train_sample_rows": 100_000},
        }
    else:
        files = sorted(folder.glob("part-*.parquet"))
        if len(files) != 1:
            raise SystemExit("check-local-poisson reads one file: 1M rows at most")
        data, engine = str(files[0]), "local"
    config = {
        "version": 1,
        "task": "classification",
        "data": {"train": data, "eval": data, "target": "y", "drop": ["id"]},
        "model": {"estimator": "sklearn.linear_model.LogisticRegression"},
        "metrics": list(METRICS),
        "evaluation": {"bootstrap": "poisson", "resamples": resamples, "row_key": ["id"]},
        "gate": [{"metric": "accuracy", "min": 0.5}],
        "drift": {"enabled": False},
        "registry": {"backend": "local", "path": str(project / "registry")},
        "engine": engine,
    }
    (project / "ci-ml.yaml").write_text(json.dumps(config))
    os.chdir(project)
    started = time.perf_counter()
    try:
        code = ci_ml(["check"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    return {"seconds": time.perf_counter() - started, "setup": 0.0, "exit": code}


def run_case(case: str, folder: Path, resamples: int) -> dict[str, Any]:
    from ci_ml.engines import EvaluationRequest, parse_source

    if case in CHECKS:
        return run_check(case, folder, resamples)

    request = EvaluationRequest("y", FEATURES, METRICS, resamples=resamples, row_key=("id",))
    models, source = _models(), parse_source(folder)
    started = time.perf_counter()
    setup = 0.0
    if case == "spark-poisson":
        from ci_ml.engines.settings import SparkSettings
        from ci_ml.engines.spark import SparkEngine

        engine = SparkEngine(SparkSettings("local[2]"))
        setup = time.perf_counter() - started
        value = engine.evaluate(source, request, models).results[0].challenger
        engine.close()
    elif case == "local-poisson":
        from ci_ml.engines.local import LocalEngine

        value = LocalEngine().evaluate(source, request, models).results[0].challenger
    else:
        frame, setup = _frame(case, folder, started)
        value = _percentile(frame, models, resamples)
    return {"seconds": time.perf_counter() - started - setup, "setup": setup, "accuracy": value}


def _frame(case: str, folder: Path, started: float) -> tuple[pd.DataFrame, float]:
    if case == "local-percentile":
        return pd.read_parquet(folder), 0.0
    from ci_ml.engines.settings import SparkSettings
    from ci_ml.engines.spark import SparkEngine

    engine = SparkEngine(SparkSettings("local[2]"))
    setup = time.perf_counter() - started
    return engine.session.read.parquet(str(folder)).toPandas(), setup


def _percentile(frame: pd.DataFrame, models: list[Any], resamples: int) -> float:
    from ci_ml.comparison import collect_predictions, paired_bootstrap, resolve_metric

    metrics = [resolve_metric(m) for m in METRICS]
    x = frame[list(FEATURES)]
    preds = [collect_predictions(m, x, metrics) for m in models]
    results = paired_bootstrap(metrics, frame["y"].to_numpy(), *preds, n_resamples=resamples)
    return results[0].challenger


def measure(case: str, folder: Path, resamples: int) -> dict[str, Any]:
    args = [sys.executable, __file__, "--case", case, "--folder", str(folder)]
    args += ["--resamples", str(resamples)]
    # SPARK_TESTING: the local server takes a free port, not 15002 (shared machines)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_TESTING": "1"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=7200)
    if done.returncode != 0:
        lines = [x for x in done.stderr.splitlines() if "Error" in x or "Exception" in x]
        return {"error": (lines or [f"exit {done.returncode}"])[-1].strip()}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--data", type=Path, default=Path("/tmp/ci-ml-spark-bench"))
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--case")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.case:
        out = run_case(args.case, args.folder, args.resamples)
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    print("| rows | case | evaluate (s) | session start (s) | driver peak RSS (MiB) |")
    print("|---|---|---|---|---|")
    for rows in (int(r) for r in args.rows.split(",")):
        folder = write_data(args.data, rows)
        for case in args.cases.split(","):
            r = measure(case, folder, args.resamples)
            if "error" in r:
                print(f"| {rows:,} | {case} | failed: {r['error'][:160]} | | |", flush=True)
                continue
            print(
                f"| {rows:,} | {case} | {r['seconds']:.1f} | {r['setup']:.1f} "
                f"| {r['peak_rss_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
