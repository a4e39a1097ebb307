"""Does loading the champion in a background thread pay? (issue 17)

    python benchmarks/champion_overlap.py PROJECT_DIR [--pairs 3]

PROJECT_DIR is a project made by core_bench.py with a champion promoted (its
train.csv and one .skops file under .ci-ml/registry). Each mode runs in a fresh
process, alternating, and prints wall and CPU seconds of the timed part:

- seq:    import skops.io and load the champion, then fit HistGradientBoosting
          (what `ci-ml check` does: validate loads the champion before training);
- fit:    the same load in a thread beside the fit (OpenMP releases the GIL);
- import: the load in a thread started before scikit-learn's own import, beside it
          (both imports hold the GIL; two threads importing scikit-learn at once
          risk "partially initialized module" errors, which this would show).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import glob, sys, threading, time
mode = sys.argv[1]
t0, c0 = time.perf_counter(), time.process_time()
path = glob.glob(".ci-ml/registry/**/*.skops", recursive=True)[0]

def load():
    import skops.io as sio
    sio.load(path, trusted=sio.get_untrusted_types(file=path))

thread = threading.Thread(target=load)
if mode == "import":
    thread.start()
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
frame = pd.read_csv("train.csv")
X, y = frame.drop(columns="label"), frame["label"]
for c in X.columns:
    if X[c].dtype.kind not in "iufb":
        X[c] = X[c].astype("category")
if mode == "seq":
    load()
if mode == "fit":
    thread.start()
HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(X, y)
if mode != "seq":
    thread.join()
print(f"{mode} wall {time.perf_counter() - t0:.2f} cpu {time.process_time() - c0:.2f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("project", type=Path)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    for _ in range(args.pairs):
        for mode in ("seq", "fit", "import"):
            done = subprocess.run(
                [sys.executable, "-c", CHILD, mode],
                cwd=args.project,
                capture_output=True,
                text=True,
                check=False,
            )
            print(done.stdout.strip() or f"{mode} failed: {done.stderr.strip()[-300:]}")


if __name__ == "__main__":
    main()
