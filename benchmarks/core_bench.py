"""`ci-ml check` against a bare scikit-learn script doing the same fit and predict.

    python benchmarks/core_bench.py [--runs 5] [--rows 100000]

Runs, in one process tree and alternating A/B, (A) `ci-ml check` on a fresh
copy of an example and (B) benchmarks/bare_sklearn.py on the same config, and
prints the median wall time of each and their ratio. Also times `ci-ml --help`.
Cases: the bundled penguins example (fixed costs dominate) and generated
classification tables of --rows rows (fitting dominates), each with the default
model file format (skops: safe to load, but importing skops costs about 0.6 s)
and with `model.format: pickle` (sha256-verified, no import cost).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
BARE = HERE / "bare_sklearn.py"
CI_ML = [sys.executable, "-m", "ci_ml.cli"]

LARGE_CONFIG = """\
version: 1
name: generated
task: classification
data: {train: train.csv, eval: eval.csv, target: label}
model:
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 100}
metrics: [roc_auc, accuracy]
gate:
  - {metric: roc_auc, min_delta: 0.0}
"""


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def generated_project(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    frame["group"] = rng.choice(["a", "b", "c", "d"], size=rows)
    signal = frame["x0"] + 0.5 * frame["x1"] * frame["x2"] + (frame["group"] == "b")
    frame["label"] = (signal + rng.normal(size=rows) > 0.5).astype(int)
    cut = int(rows * 0.8)
    folder.mkdir(parents=True)
    frame.iloc[:cut].to_csv(folder / "train.csv", index=False)
    frame.iloc[cut:].to_csv(folder / "eval.csv", index=False)
    (folder / "ci-ml.yaml").write_text(LARGE_CONFIG)
    return folder


def set_format(config: Path, fmt: str) -> None:
    text = re.sub(r"\n  format: \w+", "", config.read_text())
    config.write_text(re.sub(r"(\nmodel:\n)", rf"\1  format: {fmt}\n", text, count=1))


def compare(project: Path, runs: int) -> tuple[float, float]:
    a, b = [], []
    timed([*CI_ML, "check"], project)  # warm-up: file cache, .pyc files
    for _ in range(runs):
        shutil.rmtree(project / ".ci-ml", ignore_errors=True)
        a.append(timed([*CI_ML, "check"], project))
        b.append(timed([sys.executable, str(BARE), "ci-ml.yaml"], project))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated sizes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        penguins = Path(tmp) / "penguins"
        shutil.copytree(EXAMPLES / "penguins", penguins, ignore=shutil.ignore_patterns(".ci-ml"))
        cases = [("penguins example", penguins)]
        for rows in (int(r) for r in args.rows.split(",")):
            cases.append((f"{rows:,} rows", generated_project(Path(tmp) / f"gen{rows}", rows)))
        print("| case | model file | ci-ml check (s) | bare sklearn (s) | ratio |")
        print("|---|---|---|---|---|")
        for name, project in cases:
            for fmt in ("skops", "pickle"):
                set_format(project / "ci-ml.yaml", fmt)
                ci_ml, bare = compare(project, args.runs)
                print(f"| {name} | {fmt} | {ci_ml:.2f} | {bare:.2f} | {ci_ml / bare:.2f} |")
        helps = [timed([*CI_ML, "--help"], penguins) for _ in range(args.runs)]
        print(f"\n`ci-ml --help` startup: {statistics.median(helps):.3f} s (median of {args.runs})")


if __name__ == "__main__":
    main()
