"""Evaluate-with-bootstrap at scale: the Spark engine beside the local engine.

    python benchmarks/spark_bench.py [--rows 1000000,10000000] [--resamples 200]

On the same Parquet folder (written once under --data), each case runs in its
own subprocess so its peak memory (VmHWM of the Python process, i.e. the
runner's driver; the Spark server is a separate JVM) is its own:

- spark-poisson: `engine: spark` on local[2] (mergeable summaries, mapInArrow);
- spark-slices: the same, with `slice_by: [segment]` (8 values): the slices' sums come
  from the same scoring pass;
- local-poisson: `engine: local` with `bootstrap: poisson` (streamed batches);
- local-percentile: today's path, the whole table in pandas, percentile bootstrap;
- naive-topandas: Spark reads, toPandas() to the driver, today's local path;
- check-spark / check-local-poisson: the whole `ci-ml check` (validate, train,
  evaluate, gate, report) with `engine: spark` (train on a 100,000-row seeded
  sample) or `engine: local` + `bootstrap: poisson` (one Parquet file: 1M rows
  only), train and eval both the benchmark rows.

Validate and drift (`--cases validate-spark,validate-local,drift-spark,drift-local`)
read single Parquet files (row groups of 1M rows), which both engines read:
train-N (the rows above plus a `region` category) and new-N (other seeds, `c`
shifted by 0.2 sd, `region` tilted, 0.1% of `d` null):

- validate-*: the data schema's rules (types, ranges, allowed, non-null) on new-N,
  `spark_rules.check_rules` on the cluster or `validate_table` streamed locally;
- drift-*: the training profile of train-N and the drift of new-N over every
  feature and the target, `spark_profile` on the cluster or `build_profile` +
  `detect_drift` streamed locally; both decide with `drift.judge_drift`.

Metrics: accuracy, neg_log_loss, roc_auc; challenger LogisticRegression,
champion a depth-3 tree, both fitted on a 50,000-row sample.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from validation_bench import peak_mib  # VmHWM: its own peak (ru_maxrss counts the parent)

if TYPE_CHECKING:
    from ci_ml.engines import DataSource
    from ci_ml.engines.spark import SparkEngine

FEATURES = ("a", "b", "c", "d")
METRICS = ("accuracy", "neg_log_loss", "roc_auc")
FILE_ROWS = 1_000_000
CASES = ("spark-poisson", "local-poisson", "local-percentile", "naive-topandas")
SLICED = "spark-slices"  # run with --cases spark-poisson,spark-slices
CHECKS = ("check-spark", "check-local-poisson")
CHECKED = ("validate-spark", "validate-local", "drift-spark", "drift-local")
REGIONS = ("north", "south", "east", "west")
DRIFTED = [*FEATURES, "region"]


def write_data(folder: Path, rows: int) -> Path:
    """`rows` rows as Parquet files of at most 1M rows each (written once)."""
    target = folder / f"rows-{rows}-segment"  # the segment column: newer than rows-N
    if (target / "_SUCCESS").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for index, start in enumerate(range(0, rows, FILE_ROWS)):
        frame = _rows(min(FILE_ROWS, rows - start), seed=index, first_id=start)
        frame["segment"] = "s" + (frame["id"] % 8).astype(str)  # what spark-slices slices by
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


def write_file(folder: Path, rows: int, new: bool) -> Path:
    """`rows` rows in one Parquet file (written once): train-N or its drifted new-N."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"{'new' if new else 'train'}-{rows}.parquet"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial, writer = path.with_suffix(".partial"), None
    for index, start in enumerate(range(0, rows, FILE_ROWS)):
        frame = _with_region(min(FILE_ROWS, rows - start), index + 1000 * new, start, new)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(partial, table.schema)
        writer.write_table(table, row_group_size=FILE_ROWS)
    assert writer is not None
    writer.close()
    return partial.rename(path)


def _with_region(n: int, seed: int, first_id: int, new: bool) -> pd.DataFrame:
    frame = _rows(n, seed, first_id)
    rng = np.random.default_rng(seed + 7)
    shares = (0.2, 0.3, 0.2, 0.3) if new else (0.4, 0.3, 0.2, 0.1)
    frame["region"] = np.asarray(REGIONS)[rng.choice(len(REGIONS), n, p=shares)]
    if new:
        frame["c"] += 0.2
        frame.loc[rng.random(n) < 0.001, "d"] = np.nan  # NaN: written as null
    return frame


def schema_rules() -> dict[str, Any]:
    """A data schema a team would write: types, ranges, allowed values, non-null."""
    number = {"type": "float", "nullable": False, "min": -6.0, "max": 6.0}
    columns: dict[str, Any] = {name: dict(number) for name in FEATURES}
    columns["a"] |= {"min": -4.5, "max": 4.5}  # about 7 rows in 1M fall outside
    columns["region"] = {"type": "string", "nullable": False, "allowed": list(REGIONS)}
    columns["y"] = {"type": "int", "nullable": False, "allowed": [0, 1]}
    columns["id"] = {"type": "int", "nullable": False, "min": 0}
    return {"version": 1, "columns": columns}


def run_checked(case: str, train: Path, new: Path) -> dict[str, Any]:
    """validate-* or drift-*: seconds (session start apart) and what it found."""
    from ci_ml.engines import parse_source

    started, engine = time.perf_counter(), None
    if case.endswith("-spark"):
        from ci_ml.engines.settings import SparkSettings
        from ci_ml.engines.spark import SparkEngine

        engine = SparkEngine(SparkSettings("local[2]"))
    setup = time.perf_counter() - started
    if case.startswith("validate"):
        found = _failures(engine, parse_source(new))
    else:
        found = _drifted(engine, parse_source(train), parse_source(new))
    seconds = time.perf_counter() - started - setup
    if engine is not None:
        engine.close()
    return {"seconds": seconds, "setup": setup, "found": found}


def _failures(engine: SparkEngine | None, new: DataSource) -> list[str]:
    from ci_ml.engines.spark_rules import check_rules
    from ci_ml.validation import validate_table
    from ci_ml.validation.schema import load_schema

    schema = load_schema(schema_rules())
    result = (
        validate_table(new.location, schema) if engine is None else check_rules(engine, new, schema)
    )
    return [f"{f.column} {f.rule}: {f.failing_rows}" for f in result.failures]


def _drifted(engine: SparkEngine | None, train: DataSource, new: DataSource) -> list[str]:
    from ci_ml.engines.spark_profile import cluster_current, cluster_profile
    from ci_ml.validation import build_profile, detect_drift
    from ci_ml.validation.drift import DriftOptions, drift_columns, judge_drift

    options, wanted = DriftOptions(), [*DRIFTED, "y"]
    if engine is None:
        profile = build_profile(train.location, DRIFTED, "y")
        result = detect_drift(profile, new.location, options, wanted)
    else:
        profile = cluster_profile(engine, train, DRIFTED, "y", options.seed)
        _, compared = drift_columns(profile, engine.columns(new), options, wanted)
        current = cluster_current(engine, new, profile, compared, options.seed)
        result = judge_drift(profile, current, wanted, options)
    flagged = [*result.drifted_columns, *([result.target] if result.target else [])]
    return [f"{c.column} ({c.method})" for c in flagged if c.drifted]


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
        "data": {"train": data, "eval": data, "target": "y", "drop": ["id", "segment"]},
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


def tree_cpu(root: int | None = None) -> dict[int, float]:
    """CPU seconds (user + system) so far of this process and every descendant (the local
    Spark server's JVM and its Python workers), per pid, from /proc: time on a loaded
    machine is other jobs' too, CPU seconds are this work's."""
    parents, cpu = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    mine, todo = set(), [root or os.getpid()]
    while todo:
        pid = todo.pop()
        mine.add(pid)
        todo += [child for child, parent in parents.items() if parent == pid]
    return {pid: cpu[pid] for pid in mine if pid in cpu}


def cpu_since(before: dict[int, float]) -> float:
    """The tree's CPU seconds since `before` (a process started since counts whole)."""
    return sum(used - before.get(pid, 0.0) for pid, used in tree_cpu().items())


def run_case(case: str, folder: Path, resamples: int) -> dict[str, Any]:
    from ci_ml.engines import EvaluationRequest, parse_source

    if case in CHECKS:
        return run_check(case, folder, resamples)
    if case in CHECKED:
        rows, data = int(folder.name.split("-")[1]), folder.parent
        return run_checked(case, write_file(data, rows, False), write_file(data, rows, True))

    request = EvaluationRequest("y", FEATURES, METRICS, resamples=resamples, row_key=("id",))
    models, source = _models(), parse_source(folder)
    started = time.perf_counter()
    setup = 0.0
    if case in ("spark-poisson", SLICED):
        from dataclasses import replace

        from ci_ml.engines.settings import SparkSettings
        from ci_ml.engines.spark import SparkEngine

        engine = SparkEngine(SparkSettings("local[2]"))
        setup = time.perf_counter() - started
        if case == SLICED:
            request = replace(request, slice_by=("segment",))
        before = tree_cpu()
        value = engine.evaluate(source, request, models).results[0].challenger
        cpu = cpu_since(before)
        engine.close()
        seconds = time.perf_counter() - started - setup
        return {"seconds": seconds, "setup": setup, "cpu": cpu, "accuracy": value}
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
        print(json.dumps(out | {"peak_rss_mb": peak_mib()}))
        return
    print(
        "| rows | case | seconds | CPU (s) | session start (s) | driver peak RSS (MiB) "
        "| load | found |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for rows in (int(r) for r in args.rows.split(",")):
        for case in args.cases.split(","):
            r = measure(case, _written(args.data, rows, case), args.resamples)
            load = "/".join(f"{x:.1f}" for x in os.getloadavg())
            if "error" in r:
                print(
                    f"| {rows:,} | {case} | failed: {r['error'][:160]} | | | | {load} | |",
                    flush=True,
                )
                continue
            cpu = f"{r['cpu']:.1f}" if "cpu" in r else ""
            print(
                f"| {rows:,} | {case} | {r['seconds']:.1f} | {cpu} | {r['setup']:.1f} "
                f"| {r['peak_rss_mb']:.0f} | {load} | {'; '.join(r.get('found', []))} |",
                flush=True,
            )


def _written(data: Path, rows: int, case: str) -> Path:
    """The case's data, written before it is measured: files for validate/drift, else a folder."""
    if case not in CHECKED:
        return write_data(data, rows)
    write_file(data, rows, new=False)
    write_file(data, rows, new=True)
    return data / f"rows-{rows}"


if __name__ == "__main__":
    main()
