"""What every command works on: the loaded config, its run directory, and the
environment the process was started in (read once, here)."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ci_ml.config import Config, load_config
from ci_ml.environment import Environment
from ci_ml.events import Announcement
from ci_ml.github.comment import check_report_id
from ci_ml.output import Output, emit
from ci_ml.rundir import DEFAULT_RUN_DIR, RunDir


@dataclass(frozen=True)
class Workspace:
    config: Config
    run: RunDir
    env: Environment = field(default_factory=Environment)


def open_workspace(
    config_path: str,
    run_dir: str | None,
    report_id: str | None = None,
    registry: str | None = None,
) -> Workspace:
    """Load the config; the run directory defaults to .ci-ml/run beside it, so
    several models in one repository never share one. `registry="local"` swaps the
    configured backend for the local one at registry.path (an offline run)."""
    config = load_config(config_path)
    if registry == "local":
        config = dataclasses.replace(
            config, registry=dataclasses.replace(config.registry, backend="local")
        )
    _importable(config.root)
    if report_id:
        config = dataclasses.replace(config, report_id=check_report_id(report_id))
    path = Path(run_dir) if run_dir else config.root / DEFAULT_RUN_DIR
    return Workspace(config, RunDir(path), Environment.from_os())


def _importable(folder: Path) -> None:
    """Custom estimators and metrics (`my_metrics:fn`) live beside ci-ml.yaml, as a user
    expects; a console script does not put that folder on sys.path by itself."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def shown_path(path: Path) -> str:
    """A path as a user typed it: relative to the current folder (never an absolute
    path naming the machine) when it lies inside it."""
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    return path.as_posix()


def report_written(run: RunDir) -> str:
    """Where the report stage wrote its files, for `check` and `report` to say."""
    files = [shown_path(p) for p in run.report_files() if p.is_file()]
    return "report: wrote " + ", ".join(files)


def say(message: str) -> None:
    """Progress goes to stderr so stdout carries only the requested output."""
    print(message, file=sys.stderr, flush=True)


def show_result(output: Output, output_format: str) -> None:
    """The result on stdout in the asked format. Its headline goes to stderr too, as
    progress, only when stdout is not text (JSON, markdown): a terminal shows it once."""
    if output_format != "text":
        say(output.headline)
    emit(output, output_format)


def warn_announcement(env: Environment, action: str, announced: Announcement) -> None:
    """Say whether deploy jobs were told of a champion change; a failure is a warning
    (an Actions annotation in a workflow), never a failed promotion."""
    from ci_ml.github.runner import annotation

    if announced.status == "sent":
        say(f"{action}: champion event sent ({', '.join(d.channel for d in announced.deliveries)})")
    for problem in announced.warnings:
        text = f"{action}: the champion changed, but its event was not delivered: {problem}"
        say(annotation("warning", text, title="ci-ml") if env.in_actions else f"warning: {text}")


@contextlib.contextmanager
def log_group(env: Environment, title: str, needed: object = True) -> Iterator[None]:
    """A collapsible section of the job log in GitHub Actions; plain output elsewhere."""
    if not needed or not env.in_actions:
        yield
        return
    from ci_ml.github.runner import group

    with group(title):
        yield
