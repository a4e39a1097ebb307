"""A timeline of one `ci-ml check`: spans of ci-ml's own functions, every thread.

    python benchmarks/timeline.py PROJECT_DIR [--champion]   # run inside a generated project

Wraps the functions named in SPANS (and every module-level alias of them in ci_ml)
with a perf_counter timer that records the thread, runs `ci-ml check` in process,
and prints each span as start, end and duration from process start (so the
imports before `main` show as the gap before the first span). Nested spans are
indented. cProfile sees only the main thread; this sees the helper threads too.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import time

STARTED = time.perf_counter()

SPANS = (
    "ci_ml.commands.check.run",
    "ci_ml.training.check_setup",
    "ci_ml.registry.open_registry",
    "ci_ml.stages.validate.validate",
    "ci_ml.stages.validate._check_file",
    "ci_ml.data._read_table_cached",
    "ci_ml.validation.drift.scan_data",
    "ci_ml.validation.drift.judge_drift",
    "ci_ml.data._sha256_cached",
    "ci_ml.stages.validate._type_failures",
    "ci_ml.stages.validate._consistency_failures",
    "ci_ml.stages.validate._drift",
    "ci_ml.stages.validate._champion_predictions",
    "ci_ml.stages.validate.well_typed_rows",
    "ci_ml.stages.validate.compare_with_profile",
    "ci_ml.bundle.open_model",
    "ci_ml.bundle._load_verified",
    "ci_ml.bundle.verify",
    "ci_ml.datasets.load_datasets",
    "ci_ml.preload._preload",
    "ci_ml.stages.train.fit",
    "ci_ml.training.train",
    "ci_ml.training._fit",
    "ci_ml.training.model_features",
    "ci_ml.bundle.save_model",
    "ci_ml.bundle._save_skops",
    "ci_ml.training.model_card",
    "ci_ml.stages.train.training_profile",
    "ci_ml.validation.build_profile",
    "ci_ml.stages.evaluate.evaluate",
    "ci_ml.stages.evaluate.load_champion",
    "ci_ml.stages.evaluate.score",
    "ci_ml.stages.evaluate._eval_features",
    "ci_ml.stages.evaluate._predict",
    "ci_ml.stages.evaluate._bootstrap",
    "ci_ml.stages.evaluate._mcnemar",
    "ci_ml.stages.evaluate._slices",
    "ci_ml.stages.evaluate._predictions_frame",
    "ci_ml.rundir.RunDir.save_predictions",
    "ci_ml.rundir.RunDir.save_resampled",
    "ci_ml.stages.gate.judge",
    "ci_ml.stages.report.report",
    "ci_ml.workspace.open_workspace",
    "ci_ml.config.load_config",
    "ci_ml.config.schema_problems",
    "ci_ml.bundle.model_libraries",
    "ci_ml.rundir.write_atomic",
    "ci_ml.stages.report.assemble",
)

spans: list[tuple[str, str, float, float, int, float]] = []
depth = threading.local()


def wrap(name: str, inner: object) -> object:
    def timed(*args: object, **kwargs: object) -> object:
        level = getattr(depth, "n", 0)
        depth.n = level + 1
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)  # type: ignore[operator]
        finally:
            depth.n = level
            cpu = time.thread_time() - cpu
            thread = threading.current_thread().name
            spans.append((thread, name, began, time.perf_counter(), level, cpu))

    return timed


def install() -> None:
    for dotted in SPANS:
        module_name, _, attr = dotted.rpartition(".")
        owner: object
        try:
            owner = importlib.import_module(module_name)
        except ImportError:  # a class attribute: module.Class.method
            module_name, _, cls = module_name.rpartition(".")
            owner = getattr(importlib.import_module(module_name), cls)
        original = getattr(owner, attr)
        timed = wrap(dotted.removeprefix("ci_ml."), original)
        setattr(owner, attr, timed)
        for module in [m for n, m in sys.modules.items() if n.startswith("ci_ml") and m]:
            for key, value in list(vars(module).items()):
                if value is original:
                    setattr(module, key, timed)


def show(wall: float) -> None:
    print("  start     end   wall    cpu  span (cpu: that thread's own CPU time)")
    for thread, name, began, ended, level, cpu in sorted(spans, key=lambda s: (s[2], s[4])):
        where = "" if thread == "MainThread" else f"  [{thread}]"
        print(
            f"{began - STARTED:7.3f} {ended - STARTED:7.3f} {ended - began:6.3f} {cpu:6.3f} "
            f"{'  ' * level}{name}{where}"
        )
    print(f"process wall {wall:.3f}, process CPU {time.process_time():.3f}")


def main() -> None:
    import ci_ml.commands.check  # noqa: F401  everything check imports, before wrapping
    from ci_ml.cli import main as cli

    imported = time.perf_counter()
    install()
    print(f"imports until ci_ml.cli loaded: {imported - STARTED:.3f}")
    with contextlib.suppress(SystemExit):
        cli(["check"])
    show(time.perf_counter() - STARTED)


if __name__ == "__main__":
    main()
