"""Validation and drift, side by side with pandera and Evidently, in one run.

    python benchmarks/validation_bench.py --rows 1000000 [--scale 1000000,10000000]

Generates a reference table (N rows x 21 columns: 10 float, 5 int, 5 string
categories, 1 binary target) and a drifted copy as Parquet, then runs every
task in its own subprocess so each peak RSS is that task's alone:

- schema rules: ci-ml validate_table vs a pandera DataFrameSchema with the same
  rules (types, ranges, allowed values, non-null), reading the same Parquet file;
- drift: ci-ml (profile of the reference + drift of the current) vs Evidently's
  DataDriftPreset on the same reference/current pair;
- --scale: ci-ml alone at several sizes (Parquet and CSV), to show linear growth.

Peers run from their own virtual environment (Evidently 0.7 needs pandas < 3):
--peers-python, default /work/venvs/peers/bin/python or $CI_ML_PEERS_PYTHON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FLOATS = [f"f{i}" for i in range(10)]
INTS = [f"i{i}" for i in range(5)]
STRINGS = [f"s{i}" for i in range(5)]
TARGET = "target"
CARDINALITY = [3, 5, 10, 20, 50]
CHUNK = 1_000_000


# ---- data -----------------------------------------------------------------------------


def categories(column: int) -> list[str]:
    return [f"{STRINGS[column]}_{k}" for k in range(CARDINALITY[column])]


def make_chunk(rows: int, seed: int, drifted: bool) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i, name in enumerate(FLOATS):
        values = rng.normal(10.0 * i, 1.0 + i, rows)
        if drifted and i == 0:
            values += 0.5 * (1.0 + i)  # shift by half a std
        if drifted and i == 1:
            values = 10.0 * i + (values - 10.0 * i) * 1.6  # wider spread
        data[name] = values
    for i, name in enumerate(INTS):
        shift = 20 if drifted and i == 0 else 0
        data[name] = rng.integers(0, 100 * (i + 1), rows) + shift
    for i, name in enumerate(STRINGS):
        levels = categories(i)
        weights = np.linspace(1.0, 2.0, len(levels))
        if drifted and i == 1:
            weights = weights[::-1] ** 3
        if drifted and i == 0:
            levels = [*levels, f"{name}_new"]
            weights = np.append(weights, weights.sum() * 0.03)
        index = rng.choice(len(levels), rows, p=weights / weights.sum())
        data[name] = pa.DictionaryArray.from_arrays(
            pa.array(index.astype("int32")), pa.array(levels)
        ).cast(pa.string())
    data[TARGET] = (rng.random(rows) < (0.4 if drifted else 0.3)).astype("int64")
    return pa.table(data)


def write_dataset(path: Path, rows: int, seed: int, drifted: bool, csv: bool = False) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.exists():
        return
    writer: Any = None
    done = 0
    while done < rows:
        chunk = make_chunk(min(CHUNK, rows - done), seed + done, drifted)
        if writer is None:
            writer = (
                pacsv.CSVWriter(path, chunk.schema) if csv else pq.ParquetWriter(path, chunk.schema)
            )
        writer.write_table(chunk) if csv else writer.write_table(chunk, row_group_size=131_072)
        done += chunk.num_rows
    writer.close()


def schema_rules() -> dict[str, Any]:
    """The rules both tools check: types, ranges, allowed values, non-null."""
    columns: dict[str, Any] = {}
    for i, name in enumerate(FLOATS):
        columns[name] = {
            "type": "float",
            "nullable": False,
            "min": 10.0 * i - 6 * (1 + i),
            "max": 10.0 * i + 6 * (1 + i),
        }
    for i, name in enumerate(INTS):
        columns[name] = {"type": "int", "nullable": False, "min": 0, "max": 100 * (i + 1) - 1}
    for i, name in enumerate(STRINGS):
        columns[name] = {"type": "string", "nullable": False, "allowed": categories(i)}
    columns[TARGET] = {"type": "int", "nullable": False, "allowed": [0, 1]}
    return {"version": 1, "columns": columns}


# ---- workers (one task per process) -----------------------------------------------------


def work_cicml_validate(args: argparse.Namespace) -> dict[str, Any]:
    from ci_ml.validation import validate_table

    start = time.perf_counter()
    result = validate_table(args.current, schema_rules())
    return {"seconds": time.perf_counter() - start, "failures": len(result.failures)}


def work_cicml_drift(args: argparse.Namespace) -> dict[str, Any]:
    from ci_ml.validation import build_profile, detect_drift

    start = time.perf_counter()
    profile = build_profile(args.reference, target=TARGET)
    profiled = time.perf_counter()
    result = detect_drift(profile, args.current)
    end = time.perf_counter()
    return {
        "seconds": end - start,
        "profile_seconds": profiled - start,
        "drift_seconds": end - profiled,
        "profile_bytes": len(json.dumps(profile)),
        "drifted": sorted(c.column for c in result.drifted_columns),
    }


def work_pandera_validate(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd
    import pandera.pandas as pa

    columns: dict[str, Any] = {}
    for name, rule in schema_rules()["columns"].items():
        checks = []
        if "min" in rule:
            checks.append(pa.Check.in_range(rule["min"], rule["max"]))
        if "allowed" in rule:
            checks.append(pa.Check.isin(rule["allowed"]))
        dtype = {"float": float, "int": "int64", "string": str}[rule["type"]]
        columns[name] = pa.Column(dtype, checks, nullable=False)
    schema = pa.DataFrameSchema(columns)
    start = time.perf_counter()
    frame = pd.read_parquet(args.current)
    loaded = time.perf_counter()
    failures = 0
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        failures = len(errors.failure_cases)
    end = time.perf_counter()
    return {"seconds": end - start, "validate_seconds": end - loaded, "failure_cases": failures}


def work_evidently_drift(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    reference = pd.read_parquet(args.reference)
    current = pd.read_parquet(args.current)
    loaded = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    snapshot.dict()
    end = time.perf_counter()
    return {"seconds": end - start, "drift_seconds": end - loaded}


WORKERS = {
    "cicml_validate": work_cicml_validate,
    "cicml_drift": work_cicml_drift,
    "pandera_validate": work_pandera_validate,
    "evidently_drift": work_evidently_drift,
}


# ---- the runner --------------------------------------------------------------------------


def peak_mib() -> float:
    """This process's peak resident memory, in MiB.

    VmHWM belongs to the process's own address space; getrusage's ru_maxrss would
    also count the memory of the parent it was forked from.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_task(task: str, python: str, reference: Path, current: Path) -> dict[str, Any]:
    """Run one worker in a fresh process and collect the figures it prints."""
    command = [
        python,
        __file__,
        "--worker",
        task,
        "--reference",
        str(reference),
        "--current",
        str(current),
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        process.wait()
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise SystemExit(f"{task} failed:\n{err.read().decode()[-3000:]}")
        return dict(json.loads(out.read().decode().strip().splitlines()[-1]))


def compare(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    reference, current = data / f"ref_{args.rows}.parquet", data / f"cur_{args.rows}.parquet"
    write_dataset(reference, args.rows, 1, drifted=False)
    write_dataset(current, args.rows, 2, drifted=True)
    results: dict[str, Any] = {"rows": args.rows}
    tools = [("cicml", args.python)]
    if not args.skip_peers:
        tools.append(("peer", args.peers_python))
    for prefix, python in tools:
        validate = "cicml_validate" if prefix == "cicml" else "pandera_validate"
        drift = "cicml_drift" if prefix == "cicml" else "evidently_drift"
        # The drifted file breaks rules (pandera then builds failure cases); the reference is clean.
        results[validate] = run_task(validate, python, reference, current)
        results[f"{validate}_clean"] = run_task(validate, python, reference, reference)
        results[drift] = run_task(drift, python, reference, current)
        for key in (validate, f"{validate}_clean", drift):
            print(key, json.dumps(results[key]), flush=True)
    return results


def scale(args: argparse.Namespace, data: Path) -> list[dict[str, Any]]:
    runs = []
    for rows in [int(n) for n in args.scale.split(",") if n]:
        for suffix in args.formats.split(","):
            csv = suffix == "csv"
            reference = data / f"ref_{rows}.{suffix}"
            current = data / f"cur_{rows}.{suffix}"
            write_dataset(reference, rows, 1, drifted=False, csv=csv)
            write_dataset(current, rows, 2, drifted=True, csv=csv)
            for task in ("cicml_validate", "cicml_drift"):
                figures = run_task(task, args.python, reference, current)
                runs.append({"rows": rows, "format": suffix, "task": task, **figures})
                print("scale", json.dumps(runs[-1]), flush=True)
    return runs


def ratios(results: dict[str, Any]) -> list[str]:
    lines = []
    for suffix, label in (("", "drifted file"), ("_clean", "clean file")):
        if f"pandera_validate{suffix}" not in results:
            continue
        ours, theirs = results[f"cicml_validate{suffix}"], results[f"pandera_validate{suffix}"]
        lines.append(
            f"schema rules ({label}): pandera time / ci-ml time = "
            f"{theirs['seconds'] / ours['seconds']:.1f}x (target >= 1); "
            f"peak {ours['peak_mib']:.0f} MiB vs {theirs['peak_mib']:.0f} MiB"
        )
    if "evidently_drift" in results:
        ours, theirs = results["cicml_drift"], results["evidently_drift"]
        lines.append(
            f"drift: Evidently time / ci-ml time = "
            f"{theirs['seconds'] / ours['seconds']:.1f}x (target >= 20); "
            f"ci-ml peak / Evidently peak = {ours['peak_mib'] / theirs['peak_mib']:.2f}"
            f" (target <= 0.5)"
        )
    return lines


def markdown(figures: dict[str, Any]) -> str:
    """Tables for benchmarks/README.md from the figures of one run."""
    lines = []
    compare_figures = figures.get("compare")
    if compare_figures:
        rows = compare_figures["rows"]
        lines += [
            f"Side by side, {rows:,} rows x 21 columns (Parquet), one process per task:",
            "",
            "| Task | Tool | Time (s) | Peak RSS (MiB) |",
            "|---|---|---:|---:|",
        ]
        names = {
            "cicml_validate": ("schema rules, drifted file", "ci-ml"),
            "pandera_validate": ("schema rules, drifted file", "pandera"),
            "cicml_validate_clean": ("schema rules, clean file", "ci-ml"),
            "pandera_validate_clean": ("schema rules, clean file", "pandera"),
            "cicml_drift": ("drift (profile + check)", "ci-ml"),
            "evidently_drift": ("drift", "Evidently DataDriftPreset"),
        }
        for key, (task, tool) in names.items():
            if key in compare_figures:
                f = compare_figures[key]
                lines.append(f"| {task} | {tool} | {f['seconds']:.2f} | {f['peak_mib']:.0f} |")
        lines += ["", *[f"- {line}" for line in ratios(compare_figures)], ""]
    if figures.get("scale"):
        lines += [
            "ci-ml alone, growing the file:",
            "",
            "| Rows | Format | Task | Time (s) | Peak RSS (MiB) |",
            "|---:|---|---|---:|---:|",
        ]
        for f in figures["scale"]:
            task = "validate" if f["task"] == "cicml_validate" else "profile + drift"
            lines.append(
                f"| {f['rows']:,} | {f['format']} | {task} | {f['seconds']:.2f} "
                f"| {f['peak_mib']:.0f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale", default="", help="comma-separated row counts, ci-ml only")
    parser.add_argument("--formats", default="parquet", help="for --scale: parquet,csv")
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "ci-ml-bench"))
    parser.add_argument(
        "--peers-python",
        default=os.environ.get("CI_ML_PEERS_PYTHON", "/work/venvs/peers/bin/python"),
    )
    parser.add_argument("--python", default=sys.executable, help="the interpreter for ci-ml")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--json", help="write all figures to this file")
    parser.add_argument("--markdown", help="print README tables from a --json file, then stop")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--reference")
    parser.add_argument("--current")
    args = parser.parse_args()
    if args.worker:
        figures = WORKERS[args.worker](args)
        print(json.dumps({**figures, "peak_mib": peak_mib()}))
        return
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text(encoding="utf-8"))))
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {}
    if not args.skip_compare:
        figures["compare"] = compare(args, data)
        print("\n".join(ratios(figures["compare"])))
    if args.scale:
        figures["scale"] = scale(args, data)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
