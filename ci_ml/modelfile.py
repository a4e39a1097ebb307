"""Model files: written in a safe format where possible, loaded only when the hash matches.

A pickle is code when loaded, so every load first checks the file's sha256
against the record written when it was saved. skops files are preferred: they
load only the types that were recorded at save time.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_ml.data import sha256_file
from ci_ml.errors import EnvironmentProblem, IntegrityError

SKOPS_NAME = "model.skops"
PICKLE_NAME = "model.pkl"


@dataclass(frozen=True)
class ModelFile:
    path: Path
    format: str
    sha256: str
    size_bytes: int
    trusted_types: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "format": self.format,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "trusted_types": list(self.trusted_types),
        }


def save_model(model: Any, folder: Path, fmt: str = "auto") -> ModelFile:
    folder.mkdir(parents=True, exist_ok=True)
    if fmt in {"auto", "skops"}:
        saved = _save_skops(model, folder / SKOPS_NAME, required=fmt == "skops")
        if saved is not None:
            return saved
    return _save_pickle(model, folder / PICKLE_NAME)


def _save_skops(model: Any, path: Path, required: bool) -> ModelFile | None:
    import skops.io as sio

    try:
        sio.dump(model, path)
        trusted = tuple(sio.get_untrusted_types(file=path))
    except Exception as exc:  # skops raises many types for unsupported objects
        path.unlink(missing_ok=True)
        if required:
            raise EnvironmentProblem(f"model.format skops: cannot save this model: {exc}") from exc
        return None
    return _record(path, "skops", trusted)


def _save_pickle(model: Any, path: Path) -> ModelFile:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return _record(path, "pickle", ())


def _record(path: Path, fmt: str, trusted: tuple[str, ...]) -> ModelFile:
    return ModelFile(path, fmt, sha256_file(path), path.stat().st_size, trusted)


def model_file_from_card(folder: Path, card: dict[str, Any]) -> ModelFile:
    entry = card.get("model_file") or {}
    try:
        return ModelFile(
            path=folder / entry["file"],
            format=entry["format"],
            sha256=entry["sha256"],
            size_bytes=int(entry.get("size_bytes", 0)),
            trusted_types=tuple(entry.get("trusted_types", ())),
        )
    except (KeyError, TypeError) as exc:
        raise IntegrityError(f"{folder}: model card has no valid model_file record") from exc


def verify(record: ModelFile, what: str | None = None) -> None:
    """The file exists and its sha256 matches the record, or IntegrityError (exit 3)."""
    where = f"{what}: " if what else ""
    if not record.path.is_file():
        raise EnvironmentProblem(f"{where}{record.path}: model file not found")
    actual = sha256_file(record.path)
    if actual != record.sha256:
        raise IntegrityError(
            f"{where}{record.path}: sha256 {actual[:12]}… does not match its record "
            f"{record.sha256[:12]}…; the model file was modified, refusing to load it"
        )


def load_model(record: ModelFile) -> Any:
    """Load after checking the sha256; a mismatch is refused before any byte is unpickled.

    A verified file already loaded in this process is not loaded again (`check` reads
    the champion for prediction drift and again to score it)."""
    verify(record)
    key = (str(record.path.resolve()), record.sha256)
    if key not in _LOADED:
        try:
            model = _load_verified(record)
        except Exception as exc:
            raise IntegrityError(f"{record.path}: cannot load model: {exc}") from exc
        _LOADED[key] = model
        while len(_LOADED) > _KEEP_LOADED:
            _LOADED.popitem(last=False)
    return _LOADED[key]


_KEEP_LOADED = 2  # a champion and a challenger
_LOADED: OrderedDict[tuple[str, str], Any] = OrderedDict()


def _load_verified(record: ModelFile) -> Any:
    if record.format == "skops":
        import skops.io as sio

        return sio.load(record.path, trusted=list(record.trusted_types))
    with record.path.open("rb") as handle:
        return pickle.load(handle)
