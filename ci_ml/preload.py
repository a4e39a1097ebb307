"""Import what the later stages need while the model fits (fitting releases the GIL),
and read the data while scikit-learn imports.

Two threads importing one package at once can each see the other's modules
half initialized ("cannot import name ... from partially initialized module"),
so the main thread first imports every module training itself will import;
only then does the thread import what comes after training (the safe model
format's loader, for the champion and the saved challenger).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from ci_ml.config import Config

T = TypeVar("T")

# what ci_ml.training imports to build the preprocessing pipeline
_PIPELINE_MODULES = (
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.pipeline",
    "sklearn.preprocessing",
)


def while_checking_setup(config: Config) -> threading.Thread | None:
    """Read the data files while `check_setup` imports scikit-learn, when a core is spare."""
    if config.engine.name == "spark" or cores() < 2:
        return None  # the cluster reads them
    from ci_ml.data import read_ahead

    return read_ahead(p for p in (config.data.train, config.data.eval) if p is not None)


def while_training(config: Config) -> threading.Thread | None:
    """Start the background import, once training's own imports are done."""
    if config.model.format == "pickle":
        return None  # nothing heavy is left to import
    _import_for_training(config)
    thread = threading.Thread(target=_preload, name="ci-ml-preload", daemon=True)
    thread.start()
    return thread


def _import_for_training(config: Config) -> None:
    if config.model.estimator:
        from ci_ml.training import import_estimator

        import_estimator(config.model.estimator)
    if config.model.preprocessing != "none":
        for name in _PIPELINE_MODULES:
            importlib.import_module(name)


def _preload() -> None:
    with contextlib.suppress(Exception):  # the stage that needs it will say what failed
        import skops.io  # noqa: F401


def cores() -> int:
    """The processors this process may run on (a runner's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def alongside(work: Callable[[], T]) -> Callable[[], T]:
    """Start `work` in one thread when a second core is free (else run it now); the
    returned call waits for its result. Its BLAS/OpenMP pools get the cores the caller
    does not use, so the two together never run more threads than there are cores.
    Everything `work` imports must be imported by the caller first (see above)."""
    spare = cores() - 1
    if spare < 1:
        done = work()
        return lambda: done
    from threadpoolctl import threadpool_limits

    def bounded() -> T:
        with threadpool_limits(limits=spare):
            return work()

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ci-ml-alongside")
    future = executor.submit(bounded)
    executor.shutdown(wait=False)
    return future.result
