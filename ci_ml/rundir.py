"""The run directory: the contract between stages, so each can be its own CI step.

validation.json     validate   data checks (and drift, when a champion exists)
challenger/         train      model file, model-card.json, profile.json
command.log         train      all that model.command printed (stdout and stderr)
predictions.parquet evaluate   challenger and champion predictions on the eval rows
metrics.json        evaluate   both models scored on the very same rows
resampled.npz/.json evaluate   the bootstrap's resampled metric values, for the gate
decision.json       gate       each rule: value, threshold, passed, reason
report.json/.md     report     everything above, for people and machines
comment/            report     a PR comment saved for a fork's workflow_run poster
drift.json          drift      the answer of `ci-ml drift`
champion-read.json  validate   the github-releases champion as the run's first stage
                               read it, reused by later stages (one read per run)

This module is the only one that knows these names (challenger/ is a model bundle:
its file names are ci_ml/bundle.py's); stages read and write typed records
(ci_ml/records.py) through it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from ci_ml.bundle import CARD, PROFILE
from ci_ml.errors import EnvironmentProblem
from ci_ml.records import DecisionRecord, EvaluationRecord, Record, Report, ValidationRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

DEFAULT_RUN_DIR = ".ci-ml/run"
FILE_MODE = 0o644  # mkstemp makes 0600; run-folder files are read by later CI steps

R = TypeVar("R", bound=Record)

_FILES: dict[type[Record], str] = {
    ValidationRecord: "validation.json",
    EvaluationRecord: "metrics.json",
    DecisionRecord: "decision.json",
    Report: "report.json",
}
_PRODUCED_BY = {
    "validation.json": "validate",
    f"challenger/{CARD}": "train",
    "metrics.json": "evaluate",
    "decision.json": "gate",
    "report.json": "report",
}
_RESAMPLED = "resampled.npz"
_RESAMPLED_INDEX = "resampled.json"
_REPORT_MARKDOWN = "report.md"
REPORT_HTML = "report.html"
_DRIFT = "drift.json"
_CHAMPION_READ = "champion-read.json"
_COMMAND_LOG = "command.log"
_TMP = ".tmp"  # the suffix of a file being written (then renamed into place)


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        # the predictions this process wrote, with the file's (mtime, size) just after
        self._predictions: tuple[tuple[int, int], pd.DataFrame] | None = None

    @property
    def challenger(self) -> Path:
        return self.path / "challenger"

    @property
    def challenger_profile(self) -> Path:
        return self.challenger / PROFILE

    @property
    def predictions(self) -> Path:
        return self.path / "predictions.parquet"

    @property
    def champion_read(self) -> Path:
        """The registry's champion as the run's first stage read it (github-releases)."""
        return self.path / _CHAMPION_READ

    @property
    def comment_dir(self) -> Path:
        return self.path / "comment"

    @property
    def training_failure(self) -> Path:
        """What happened when model.command failed or was stopped (no model, no card)."""
        return self.challenger / "training-failed.json"

    @property
    def command_log(self) -> Path:
        """model.command's whole output, as it printed it (ci-ml's stderr has it too)."""
        return self.path / _COMMAND_LOG

    @property
    def challenger_card(self) -> Path:
        return self.challenger / CARD

    def read_challenger_card(self) -> dict[str, Any]:
        return self.read(str(self.challenger_card.relative_to(self.path)))

    def file(self, name: str) -> Path:
        return self.path / name

    def path_of(self, kind: type[Record]) -> Path:
        """Where the record of `kind` lives (validation.json for a ValidationRecord)."""
        return self.path / _FILES[kind]

    @property
    def report_markdown(self) -> Path:
        return self.path / _REPORT_MARKDOWN

    def has(self, kind: type[Record]) -> bool:
        return self.path_of(kind).is_file()

    def load(self, kind: type[R]) -> R:
        name = _FILES[kind]
        data = self.read(name)
        try:
            return kind.from_json(data)
        except (TypeError, AttributeError) as exc:
            raise EnvironmentProblem(
                f"{self.path / name}: not a {kind.__name__} written by this ci-ml ({exc}); "
                f"run `ci-ml {_PRODUCED_BY[name]}` again"
            ) from exc

    def load_if_present(self, kind: type[R]) -> R | None:
        return self.load(kind) if self.has(kind) else None

    def save(self, record: Record) -> Path:
        return self.write(_FILES[type(record)], record.to_json())

    def clear_records(self) -> None:
        """Outputs of an earlier run must not leak into this run's report."""
        remove_leftovers(self.path)
        for name in (*_FILES.values(), _REPORT_MARKDOWN, REPORT_HTML, _CHAMPION_READ):
            path = self.file(name)
            _writable(path)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise EnvironmentProblem(
                    f"{path}: cannot remove an earlier run's file: {exc.strerror or exc}"
                ) from exc

    def load_predictions(self) -> pd.DataFrame | None:
        """evaluate's row-by-row predictions of both models, when it ran: in `ci-ml check`
        the frame evaluate wrote, unless the file has changed since."""
        import pandas as pd

        if not self.predictions.is_file():
            return None
        if self._predictions is not None and self._predictions[0] == _stamp(self.predictions):
            return self._predictions[1]
        try:
            return pd.read_parquet(self.predictions)
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(f"{self.predictions}: unreadable: {exc}") from exc

    def save_report_markdown(self, text: str) -> Path:
        return self.write_text(_REPORT_MARKDOWN, text)

    def save_report_html(self, text: str) -> Path:
        return self.write_text(REPORT_HTML, text)

    def report_files(self) -> list[Path]:
        """report.md, report.json and report.html, where the report stage wrote them."""
        return [self.file(name) for name in (_REPORT_MARKDOWN, _FILES[Report], REPORT_HTML)]

    def save_drift(self, data: dict[str, Any]) -> Path:
        return self.write(_DRIFT, data)

    def save_resampled(self, resampled: dict[str, np.ndarray]) -> None:
        """The bootstrap's resampled values, for the gate's confidence rules."""
        import numpy as np

        arrays: dict[str, Any] = {f"m{i}": v for i, v in enumerate(resampled.values())}
        write_atomic(
            self.file(_RESAMPLED),
            lambda handle: np.savez_compressed(handle, **arrays),
            durable=False,
        )
        self.write(_RESAMPLED_INDEX, {"metrics": list(resampled)})

    def save_predictions(self, predictions: pd.DataFrame) -> None:
        """evaluate's row-by-row predictions of both models."""
        write_atomic(
            self.predictions,
            lambda handle: predictions.to_parquet(handle, index=False),
            durable=False,
        )
        self._predictions = (_stamp(self.predictions), predictions)

    def load_resampled(self) -> dict[str, np.ndarray]:
        import numpy as np

        if not self.file(_RESAMPLED).is_file():
            return {}
        names = self.read(_RESAMPLED_INDEX)["metrics"]
        with np.load(self.file(_RESAMPLED)) as stored:
            return {name: stored[f"m{i}"] for i, name in enumerate(names)}

    def read(self, name: str) -> dict[str, Any]:
        path = self.path / name
        if not path.is_file():
            stage = _PRODUCED_BY.get(name, "an earlier stage")
            raise EnvironmentProblem(
                f"{path}: not found; run `ci-ml {stage}` first (or `ci-ml check`)"
            )
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EnvironmentProblem(f"{path}: unreadable or corrupt JSON: {exc}") from exc
        return data

    def write(self, name: str, data: dict[str, Any]) -> Path:
        path = self.path / name
        write_json_atomic(path, data, durable=False)
        return path

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        write_text_atomic(path, text, durable=False)
        return path


def write_json_atomic(path: Path, data: Any, durable: bool = True) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"
    write_text_atomic(path, text, durable)


def write_text_atomic(path: Path, text: str, durable: bool = True) -> None:
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")), durable)


def write_atomic(path: Path, fill: Callable[[BinaryIO], object], durable: bool = True) -> None:
    """Write beside the target, then rename: a crash of ci-ml never leaves half a file.

    `durable` also syncs the file to disk before the rename, so that it survives a
    power loss too: the registry's pointer and records need that. The run folder's
    files (`durable=False`) are remade by running the stage again, and the later CI
    steps that read them read the page cache: syncing each cost a disk flush.
    """
    _writable(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP, dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
        if durable:
            sync_folder(path.parent)  # the rename itself, not only the file's bytes
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:  # a full disk or a failed writer leaves no half file behind
            Path(tmp).unlink(missing_ok=True)


def sync_tree(path: Path) -> None:
    """Every file and folder under `path` (and `path`) synced to disk: a copied bundle
    survives a power loss before the pointer that names it moves."""
    for item in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if item.is_file() and not item.is_symlink():
            with item.open("rb") as handle:
                os.fsync(handle.fileno())
        elif item.is_dir():
            sync_folder(item)
    sync_folder(path)


def sync_folder(path: Path) -> None:
    """A folder's entries synced (a rename into it, a new file); POSIX only, as Windows
    cannot open a folder for syncing."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def remove_leftovers(folder: Path) -> None:
    """Half-written files of a killed run (`.report.json.x1y2.tmp`): only ci-ml's own."""
    for leftover in folder.glob(f".*{_TMP}") if folder.is_dir() else ():
        with contextlib.suppress(OSError):  # a folder we cannot clean fails its next write
            leftover.unlink(missing_ok=True)


def _writable(path: Path) -> None:
    """The folder exists (made if need be) and is a folder; else a plain exit-3 message."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise EnvironmentProblem(
            f"{_first_file(path.parent)}: expected a run folder, found a file; "
            "pass --run-dir to choose another folder"
        ) from exc
    except OSError as exc:
        raise EnvironmentProblem(
            f"{path.parent}: cannot create the run folder: {exc.strerror or exc}"
        ) from exc


def _first_file(folder: Path) -> Path:
    """The ancestor that is a file where a folder was expected."""
    for candidate in (folder, *folder.parents):
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return folder
