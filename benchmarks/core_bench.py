"""`ci-ml check` against a bare scikit-learn script doing the same fit and predict.

    python benchmarks/core_bench.py [--runs 3] [--rows 10000,100000] [--formats skops]
    python benchmarks/core_bench.py --stages --rows 100000   # where ci-ml's time goes

Runs, alternating A/B, (A) `ci-ml check` and (B) benchmarks/bare_sklearn.py on
the same config and data, and prints the median wall time of each and the
median of the pair-by-pair ratios, then the same for CPU time (user + system of
each process, which a shared machine's load moves far less), and the load. Two
cases per table: the first run (no champion yet) and the second run (the first
run's model promoted: ci-ml loads and scores the champion, and the bare script
loads and scores the model file it saved the run before). Data: generated
tables of 10 float, 5 int and 5 categorical columns with a binary target,
HistGradientBoostingClassifier.
`--stages` runs `ci-ml check` in process with a timer around each stage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
BARE = HERE / "bare_sklearn.py"
CI_ML = [sys.executable, "-m", "ci_ml.cli"]
STAGES = ("validate.validate", "train.fit", "evaluate.evaluate", "gate.judge", "report.report")

CONFIG = """\
version: 1
name: generated
task: classification
data: {train: train.csv, eval: eval.csv, target: label}
model:
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 100}
metrics: [roc_auc, accuracy]
gate:
  - {metric: roc_auc, min_delta: -1.0}
registry:
  backend: local
  path: .ci-ml/registry
"""


def timed(command: list[str], cwd: Path) -> float:
    return timed_cpu(command, cwd)[0]


def timed_cpu(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds, and CPU seconds (user + system) of the process and its children:
    on a shared machine the CPU time moves far less with the load than the wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def generated_project(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
    for i in range(5):
        frame[f"n{i}"] = rng.integers(0, 20 * (i + 1), size=rows)
    for i, levels in enumerate((3, 4, 5, 6, 8)):  # one-hot stays dense
        frame[f"c{i}"] = rng.choice([f"v{j}" for j in range(levels)], size=rows)
    signal = (
        frame["x0"] + 0.5 * frame["x1"] * frame["x2"] + (frame["c0"] == "v1") + frame["n0"] / 20
    )
    frame["label"] = (signal + rng.normal(size=rows) > 1.0).astype(int)
    cut = int(rows * 0.8)
    folder.mkdir(parents=True)
    frame.iloc[:cut].to_csv(folder / "train.csv", index=False)
    frame.iloc[cut:].to_csv(folder / "eval.csv", index=False)
    (folder / "ci-ml.yaml").write_text(CONFIG)
    return folder


def set_format(config: Path, fmt: str) -> None:
    text = re.sub(r"\n  format: \w+", "", config.read_text())
    config.write_text(re.sub(r"(\nmodel:\n)", rf"\1  format: {fmt}\n", text, count=1))


def fresh(project: Path, champion: bool) -> None:
    """The run folder emptied; the registry (the champion) kept only when asked."""
    if not champion:
        shutil.rmtree(project / ".ci-ml", ignore_errors=True)
        (project / "bare-model.skops").unlink(missing_ok=True)
        return
    for entry in (project / ".ci-ml").iterdir():
        if entry.name != "registry":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def make_champion(project: Path) -> None:
    fresh(project, champion=False)
    timed([*CI_ML, "check", "--promote"], project)
    timed([sys.executable, str(BARE), "ci-ml.yaml"], project)


def compare(project: Path, runs: int, champion: bool) -> tuple[float, ...]:
    """Median wall of A, of B, the median of the pair-by-pair wall ratios A/B, and the
    same three for CPU time."""
    a, b = [], []
    for _ in range(runs):
        fresh(project, champion)
        a.append(timed_cpu([*CI_ML, "check"], project))
        if not champion:
            (project / "bare-model.skops").unlink(missing_ok=True)
        b.append(timed_cpu([sys.executable, str(BARE), "ci-ml.yaml"], project))
    out: list[float] = []
    for k in (0, 1):  # wall, then CPU
        ratios = [x[k] / y[k] for x, y in zip(a, b, strict=True)]
        # numpy's median: benchmarks/statistics.py shadows the standard library's module here
        out += [float(np.median([x[k] for x in a])), float(np.median([y[k] for y in b]))]
        out.append(float(np.median(ratios)))
    return tuple(out)


STAGE_SCRIPT = """
import json, sys, time
from ci_ml.commands import check
from ci_ml.stages import evaluate, gate, report, train, validate
spent = {}
def timer(module, name):
    inner = getattr(module, name)
    def wrapped(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - started
    setattr(module, name, wrapped)
for dotted in STAGES:
    module, name = dotted.split(".")
    timer(globals()[module], name)
from ci_ml.cli import main
started = time.perf_counter()
try:
    main(["check"])
except SystemExit:
    pass
spent["total (in process)"] = time.perf_counter() - started
sys.stderr.write("STAGES " + json.dumps(spent) + "\\n")
"""


def stage_breakdown(project: Path, champion: bool) -> dict[str, float]:
    fresh(project, champion)
    script = f"STAGES = {STAGES!r}\n{STAGE_SCRIPT}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    line = [x for x in done.stderr.splitlines() if x.startswith("STAGES ")]
    if not line:
        raise SystemExit(done.stderr)
    spent: dict[str, float] = json.loads(line[-1].removeprefix("STAGES "))
    return spent | {"wall (process)": wall}


def byte_compiled() -> None:
    """Compile ci_ml's modules once, as `pip install` does: with an editable install
    and PYTHONDONTWRITEBYTECODE set, each run would otherwise compile them again
    (0.1-0.15 s of CPU that an installed ci-ml, as the action installs it, never pays;
    the bare script's libraries are compiled already)."""
    import compileall

    import ci_ml

    compileall.compile_dir(Path(ci_ml.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", default="10000,100000", help="comma-separated sizes")
    parser.add_argument("--formats", default="skops", help="comma-separated: skops,pickle")
    parser.add_argument("--stages", action="store_true", help="stage breakdown instead")
    args = parser.parse_args()
    byte_compiled()
    with tempfile.TemporaryDirectory() as tmp:
        for rows in (int(r) for r in args.rows.split(",")):
            project = generated_project(Path(tmp) / f"gen{rows}", rows)
            for fmt in args.formats.split(","):
                set_format(project / "ci-ml.yaml", fmt)
                run_case(project, rows, fmt, args)


def run_case(project: Path, rows: int, fmt: str, args: argparse.Namespace) -> None:
    if args.stages:
        for champion in (False, True):
            if champion:
                make_champion(project)
            spent = stage_breakdown(project, champion)
            shown = ", ".join(f"{k} {v:.2f}" for k, v in spent.items())
            print(f"{rows:,} rows, {fmt}, {'with' if champion else 'no'} champion: {shown}")
        return
    print(
        "| rows | model file | run | ci-ml check (s) | bare sklearn (s) | ratio "
        "| ci-ml CPU (s) | bare CPU (s) | CPU ratio | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    first = compare(project, args.runs, champion=False)
    make_champion(project)
    second = compare(project, args.runs, champion=True)
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    for label, figures in (("first", first), ("with champion", second)):
        shown = " | ".join(f"{x:.2f}" for x in figures)
        print(f"| {rows:,} | {fmt} | {label} | {shown} | {load} |", flush=True)


if __name__ == "__main__":
    main()
