"""The model bundle: the model file, its model card, the training profile and the
registry record, as train writes them and every registry backend stores them.

This module is the only one that knows the bundle's file names.

Trust. A model file is code when unpickled, so it is loaded only when its sha256,
format and (for skops) trusted types match what the registry vouches for: the
champion pointer's seal for a version that is or was champion, else the record
ci-ml wrote when it stored the version. The card and record travel with the file,
so they are checked against that seal, never trusted on their own word. A Spark ML
PipelineModel is a folder: its sha256 covers every file's relative path and content,
and it is loaded only on the cluster (by the Spark engine), after the same check.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import pickle
import re
import shutil
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml.data import sha256_file
from ci_ml.errors import ConfigError, EnvironmentProblem, IntegrityError

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.registry.base import Version

CARD = "model-card.json"
PROFILE = "profile.json"
RECORD = "record.json"
INPUT_EXAMPLE = "input-example.json"  # a few eval rows, for registries that log signatures
SPARK_PIPELINE = "spark-pipeline"  # a Spark ML PipelineModel: a folder its writer wrote
MODEL_NAMES = {"skops": "model.skops", "pickle": "model.pkl", SPARK_PIPELINE: "model.sparkml"}
CARRIED = (CARD, PROFILE, INPUT_EXAMPLE)  # stored with the model file, when present
FILE_MODE = 0o644  # teammates and container users read registry files
# What every model needs, whatever the estimator's own package is.
BASE_LIBRARIES = ("scikit-learn", "numpy", "scipy")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def plain_name(name: object, where: str) -> str:
    """A file name from a card, record or remote listing: never a path, never hidden.

    Every backend passes names it did not choose itself through here, so a `../`,
    an absolute path or a name with a separator cannot reach outside its folder."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name) or ".." in name:
        raise IntegrityError(
            f"{where}: file name {name!r} is not a plain file name (letters, digits, '.', "
            "'_', '-'; no path); refusing it"
        )
    return name


@dataclass(frozen=True)
class ModelFile:
    """A model file and what it must be: sha256, format, the skops types it may load."""

    path: Path
    format: str
    sha256: str
    size_bytes: int
    trusted_types: tuple[str, ...] = ()
    libraries: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The seal: what a record or the champion pointer vouches for."""
        return {
            "file": self.path.name,
            "format": self.format,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "trusted_types": list(self.trusted_types),
        }

    @classmethod
    def from_dict(
        cls, folder: Path, entry: object, where: str, libraries: Mapping[str, str] | None = None
    ) -> ModelFile:
        """The model file a seal describes, in `folder`; IntegrityError if it is malformed."""
        if not isinstance(entry, dict) or not _valid_seal(entry):
            raise IntegrityError(f"{where}: no valid model_file record (file, format, sha256)")
        fmt, sha, types = entry["format"], entry["sha256"], entry.get("trusted_types", [])
        size = entry.get("size_bytes") or 0
        name = plain_name(entry.get("file"), where)
        return cls(folder / name, fmt, sha, size, tuple(types), dict(libraries or {}))


def _valid_seal(entry: dict[str, Any]) -> bool:
    sha, types = entry.get("sha256"), entry.get("trusted_types", [])
    return (
        entry.get("format") in MODEL_NAMES
        and isinstance(sha, str)
        and re.fullmatch(r"[0-9a-f]{64}", sha) is not None
        and isinstance(types, list)
        and all(isinstance(t, str) for t in types)
        and isinstance(entry.get("size_bytes", 0), int)
    )


@dataclass(frozen=True)
class LoadedModel:
    """A loaded model and the library-version warnings the report should show."""

    model: Any
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelBundle:
    """One trained model's folder: model file, model card, and the profile when present."""

    folder: Path
    card: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> ModelBundle:
        return cls(folder, read_json(folder / CARD, "model card"))

    @property
    def model_file(self) -> ModelFile:
        """The model file as the card describes it (trusted only for a fresh train)."""
        where = str(self.folder / CARD)
        return ModelFile.from_dict(
            self.folder, self.card.get("model_file"), where, self.card.get("libraries")
        )

    def files(self) -> list[Path]:
        """The files a backend stores for this bundle, model file first."""
        return [self.model_file.path, *self.carried()]

    def carried(self) -> list[Path]:
        """The card, profile and input example: what travels with the model file."""
        return [self.folder / n for n in CARRIED if (self.folder / n).is_file()]

    def profile(self) -> dict[str, Any] | None:
        path = self.folder / PROFILE
        return read_json(path, "training profile") if path.is_file() else None

    def input_example(self) -> pd.DataFrame | None:
        """Eval rows as the model takes them (after ci-ml's column handling), if present."""
        import pandas as pd

        path = self.folder / INPUT_EXAMPLE
        if not path.is_file():
            return None
        try:
            return pd.read_json(path, orient="table")
        except ValueError as exc:
            raise IntegrityError(f"{path}: input example unreadable: {exc}") from exc

    def record(self, number: int, created_at: str) -> dict[str, Any]:
        """The registry's record of this bundle stored as version `number`."""
        model = self.model_file
        return {
            "version": number,
            "sha256": model.sha256,
            "created_at": created_at,
            "model_file": model.to_dict(),
        }

    def vouched(self, seal: object, record: dict[str, Any], where: str) -> ModelFile:
        """The model file as the registry vouches for it: by the champion pointer's `seal`
        when there is one, else by the `record`; the card and record must agree with it."""
        libraries = self.card.get("libraries")
        if seal is None:
            seal = record.get("model_file") or _legacy_seal(self.card, record)
        vouched = ModelFile.from_dict(self.folder, seal, where, libraries)
        _agree(vouched, self.card.get("model_file"), f"{where}: model card")
        if record.get("model_file") is not None:
            _agree(vouched, record["model_file"], f"{where}: {RECORD}")
        _agree(vouched, {"sha256": record.get("sha256")}, f"{where}: {RECORD}")
        return vouched

    def stored_as(self, version: Version | None) -> bool:
        """Whether `version` already holds this very bundle (a rerun after a kill
        between adding the version and promoting it adds nothing new)."""
        if version is None:
            return False
        return version.sha256 == self.model_file.sha256 and version.card == self.card

    def predict(self, model: Any, x: pd.DataFrame) -> Any:
        """Predictions on raw feature rows, through the adapter training used."""
        from ci_ml.training import model_features

        return model.predict(model_features(x))


def _legacy_seal(card: dict[str, Any], record: dict[str, Any]) -> Any:
    """A record written before records carried the whole seal: its sha256 only."""
    entry = card.get("model_file")
    return {**entry, "sha256": record.get("sha256")} if isinstance(entry, dict) else entry


def _agree(vouched: ModelFile, claimed: object, what: str) -> None:
    """The card-vs-record check, the only one: every field a claim makes must match."""
    if not isinstance(claimed, dict):
        raise IntegrityError(f"{what}: has no model_file record; refusing")
    if "file" in claimed:
        plain_name(claimed["file"], what)
    expected = vouched.to_dict()
    for key in ("file", "format", "sha256", "trusted_types"):  # what loading depends on
        if key in claimed and claimed[key] != expected[key]:
            raise IntegrityError(
                f"{what} {key} {_short(claimed[key])} differs from the registry record "
                f"{_short(expected[key])}; refusing to load it"
            )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{path}: {what} not found") from exc
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: {what} unreadable or corrupt: {exc}") from exc
    if not isinstance(data, dict):
        raise IntegrityError(f"{path}: {what} is not a JSON object")
    return data


def share(path: Path) -> Path:
    """Make a file ci-ml wrote readable by teammates (mkstemp creates it 0600)."""
    os.chmod(path, FILE_MODE)
    return path


# -- saving -----------------------------------------------------------------------


def save_model(model: Any, folder: Path, fmt: str = "auto") -> ModelFile:
    """Save in skops where the model allows it; pickle only for `format: pickle` or
    when skops cannot represent the model. A write error is never a downgrade."""
    folder.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(folder)
    libraries = model_libraries(model)
    if fmt in {"auto", "skops"}:
        saved = _save_skops(model, folder / MODEL_NAMES["skops"], required=fmt == "skops")
        if saved is not None:
            return _with(saved, libraries)
    return _with(_save_pickle(model, folder / MODEL_NAMES["pickle"]), libraries)


def _clear_leftovers(folder: Path) -> None:
    """Temporary files an earlier, killed save left: ci-ml's own names only."""
    for name in MODEL_NAMES.values():
        for left in (folder / f"{name}.tmp", folder / "model.tmp"):
            left.unlink(missing_ok=True)


def _save_skops(model: Any, path: Path, required: bool) -> ModelFile | None:
    import skops.io as sio

    tmp = path.with_name(path.name + ".tmp")
    try:
        sio.dump(model, tmp)
        trusted = tuple(sio.get_untrusted_types(file=tmp))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EnvironmentProblem(f"{path}: cannot write the model: {exc.strerror or exc}") from exc
    except Exception as exc:  # skops raises many types for objects it cannot represent
        tmp.unlink(missing_ok=True)
        if required:
            raise EnvironmentProblem(f"model.format skops: cannot save this model: {exc}") from exc
        return None
    return _record(path, "skops", trusted)


def _save_pickle(model: Any, path: Path) -> ModelFile:
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("wb") as handle:
            pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EnvironmentProblem(f"{path}: cannot write the model: {exc.strerror or exc}") from exc
    return _record(path, "pickle", ())


def _record(path: Path, fmt: str, trusted: tuple[str, ...]) -> ModelFile:
    return ModelFile(path, fmt, sha256_file(path), path.stat().st_size, trusted)


def _with(saved: ModelFile, libraries: dict[str, str]) -> ModelFile:
    return ModelFile(saved.path, saved.format, saved.sha256, saved.size_bytes,
                     saved.trusted_types, libraries)  # fmt: skip


# -- library versions -------------------------------------------------------------


def model_libraries(model: Any) -> dict[str, str]:
    """The versions of every library the model needs to load: scikit-learn, numpy,
    scipy, and the distribution of each step's own top-level package."""
    packages = dict.fromkeys(type(step).__module__.partition(".")[0] for step in _steps(model))
    names = [*BASE_LIBRARIES, *(d for package in packages for d in distributions_of(package))]
    found = {name: _installed(name) for name in dict.fromkeys(names)}
    return {name: version for name, version in found.items() if version}


def _steps(model: Any) -> list[Any]:
    steps = getattr(model, "steps", None)
    return [s for _, s in steps] if isinstance(steps, list) else [model]


@functools.cache
def distributions_of(package: str) -> tuple[str, ...]:
    """The installed distributions that provide top-level `package`, in the order and
    by the rule of `importlib.metadata.packages_distributions()`, which parses every
    distribution's file list (0.1-0.3 s); here only the lists that name it are parsed."""
    found = importlib.metadata.distributions()
    return tuple(dist.metadata["Name"] for dist in found if _provides(dist, package))


def _provides(dist: importlib.metadata.Distribution, package: str) -> bool:
    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:  # as packages_distributions(): a declared list is the whole answer
        return package in declared
    listed = "\n".join(
        dist.read_text(n) or "" for n in ("RECORD", "installed-files.txt", "SOURCES.txt")
    )
    if re.search(rf'^"?{re.escape(package)}/', listed, re.MULTILINE):
        return True  # a file in the package's folder: no need to parse the whole list
    return package in listed and package in _top_level_inferred(dist)


def _top_level_inferred(dist: importlib.metadata.Distribution) -> set[str]:
    """The importable top-level names of a distribution's files (no declared list)."""
    names = {
        f.parts[0] if len(f.parts) > 1 else inspect.getmodulename(str(f)) or f.name
        for f in dist.files or ()
    }
    return {name for name in names if "." not in name}


def _installed(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_warnings(libraries: Mapping[str, str], what: str) -> list[str]:
    """Warnings for minor differences; an exit-3 error for a major one or a missing one."""
    found = []
    for name, saved, installed in _differences(libraries):
        if installed is None or _major(installed) != _major(saved):
            raise EnvironmentProblem(
                f"{what} was saved with {name} {saved}, but {name} "
                f"{installed or 'is not installed'} here: an incompatible version. "
                + _fix(name, saved)
            )
        found.append(
            f"{what} was saved with {name} {saved} and loaded with {name} {installed}; "
            f"pin {name}=={saved} or retrain the champion to remove this warning"
        )
    return found


def _differences(libraries: Mapping[str, str]) -> list[tuple[str, str, str | None]]:
    """(library, version saved with, version installed) for each that differs."""
    found = [(name, saved, _installed(name)) for name, saved in sorted(libraries.items())]
    return [(name, saved, here) for name, saved, here in found if here != saved]


def _fix(name: str, saved: str) -> str:
    return (
        f"Install {name}=={saved} (pin it in the project's requirements), or retrain the champion"
    )


def _major(version: str) -> str:
    return version.split(".", 1)[0]


# -- loading ----------------------------------------------------------------------


def verify(record: ModelFile, what: str | None = None) -> None:
    """The file exists and its sha256 matches the record, or IntegrityError (exit 3)."""
    where = f"{what}: " if what else ""
    if not (record.path.is_dir() if record.format == SPARK_PIPELINE else record.path.is_file()):
        raise EnvironmentProblem(f"{where}{record.path}: model file not found")
    actual = sha256_path(record.path)
    if actual != record.sha256:
        raise IntegrityError(
            f"{where}{record.path}: sha256 {actual[:12]}… does not match its record "
            f"{record.sha256[:12]}…; the model file was modified, refusing to load it"
        )


def open_model(record: ModelFile, what: str = "the model") -> LoadedModel:
    """Load after checking the sha256 (a mismatch is refused before any byte is
    unpickled) and the library versions the card recorded; warnings for the report.

    A verified file already loaded in this process is not loaded again (`check` reads
    the champion for prediction drift and again to score it)."""
    verify(record)
    key = (str(record.path.resolve()), record.sha256)
    if key not in _LOADED:
        _LOADED[key] = _load_checked(record, what)
        while len(_LOADED) > _KEEP_LOADED:
            _LOADED.popitem(last=False)
    return _LOADED[key]


def load_model(record: ModelFile) -> Any:
    """The model alone (callers that do not report version warnings)."""
    return open_model(record).model


_KEEP_LOADED = 2  # a champion and a challenger
_LOADED: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()


def _load_checked(record: ModelFile, what: str) -> LoadedModel:
    notes = version_warnings(record.libraries, f"{record.path.name} ({what})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = _load_verified(record)
        except Exception as exc:
            raise _unloadable(record, exc) from exc
    if not notes:  # a card from before libraries were recorded: scikit-learn's own word
        notes = [str(w.message) for w in caught if _inconsistent_version(w.message)]
    return LoadedModel(model, tuple(notes))


def _unloadable(record: ModelFile, exc: Exception) -> EnvironmentProblem:
    """A load that failed: blamed on the library versions when they differ."""
    differs = _differences(record.libraries)
    if not differs:
        return IntegrityError(f"{record.path}: cannot load model: {exc}")
    name, saved, here = differs[0]
    return EnvironmentProblem(
        f"{record.path}: cannot load model: {exc}. It was saved with {name} {saved}, "
        f"here {name} is {here or 'not installed'}. " + _fix(name, saved)
    )


def _inconsistent_version(message: Warning | str) -> bool:
    return "InconsistentVersion" in type(message).__name__


def _load_verified(record: ModelFile) -> Any:
    if record.format == SPARK_PIPELINE:
        return SparkPipeline(str(record.path.resolve()), record.sha256)
    if record.format == "skops":
        import skops.io as sio

        return sio.load(record.path, trusted=list(record.trusted_types))
    with record.path.open("rb") as handle:
        return pickle.load(handle)


# -- Spark ML PipelineModel folders -------------------------------------------------


@dataclass(frozen=True)
class SparkPipeline:
    """A verified Spark ML PipelineModel folder; the Spark engine loads it on the cluster.

    The runner never loads it: everything that would score it here refuses (exit 2)."""

    path: str
    sha256: str
    estimator_name = "pyspark.ml.PipelineModel"

    def predict(self, x: Any) -> Any:
        raise ConfigError(
            f"{self.path}: a Spark ML PipelineModel is scored on the cluster only; set "
            "engine: spark (with drift.enabled: false and no latency budget)"
        )


def sha256_path(path: Path) -> str:
    """A file's sha256, or a folder's: of its sorted (relative path, file sha256) lines."""
    if not path.is_dir():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    lines = [f"{p.relative_to(path).as_posix()}\t{sha256_file(p)}" for p in files]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def save_spark_pipeline(written: Path, folder: Path) -> ModelFile:
    """Move the folder `model.command` wrote into the bundle, and seal it."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / MODEL_NAMES[SPARK_PIPELINE]
    if not (written / "metadata").is_dir():
        raise EnvironmentProblem(
            f"model.command: {written} is not a Spark ML model folder (no metadata/); "
            "save it with PipelineModel.write().overwrite().save($CI_ML_SPARK_MODEL_PATH)"
        )
    if target.exists():
        shutil.rmtree(target)
    written.replace(target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    version = _installed("pyspark")
    libraries = {"pyspark": version} if version else {}
    return ModelFile(target, SPARK_PIPELINE, sha256_path(target), size, (), libraries)


def copy_model(path: Path, target: Path) -> None:
    """A registry's copy of a model file, or of a model folder."""
    if path.is_dir():
        shutil.copytree(path, target, copy_function=shutil.copy2)
    else:
        shutil.copy2(path, target)


def stored_name(model: ModelFile) -> str:
    """The name a one-file-per-model registry stores the model under: a folder model's
    deterministic archive (ci_ml.folder_archive), or the model file itself."""
    from ci_ml.folder_archive import SUFFIX

    return model.path.name + SUFFIX if model.format == SPARK_PIPELINE else model.path.name


def as_one_file(model: ModelFile, scratch: Path) -> Path:
    """The model as one file to upload: the file itself, or the folder packed in `scratch`."""
    from ci_ml.folder_archive import pack

    if model.format != SPARK_PIPELINE:
        return model.path
    return pack(model.path, scratch / stored_name(model))


def holds(model: ModelFile) -> bool:
    """Whether a cache already holds the very model the seal describes."""
    kind_ok = model.path.is_dir() if model.format == SPARK_PIPELINE else model.path.is_file()
    return kind_ok and sha256_path(model.path) == model.sha256


def unpack_model(archive: Path, model: ModelFile, where: str) -> None:
    """A downloaded archive unpacked to `model.path` only if the folder matches the seal:
    checked before it is moved into place, so nothing unvouched is ever there to load."""
    from ci_ml.folder_archive import unpack

    staging = unpack(archive, model.path, where, model.size_bytes)
    try:
        verify(replace(model, path=staging), where)
    except EnvironmentProblem as error:
        shutil.rmtree(staging, ignore_errors=True)
        error.message = error.message.replace(str(staging), f"{model.path.name} (unpacked)")
        error.args = (error.message,)
        raise
    if model.path.is_dir():
        shutil.rmtree(model.path)  # a stale or tampered copy in ci-ml's own cache
    os.chmod(staging, 0o755)  # mkdtemp made it private; teammates read the cache
    staging.replace(model.path)
