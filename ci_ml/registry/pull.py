"""Fetch a champion (or any version) out of the registry, verified, for serving.

`pull` copies the model file the registry vouches for (the champion pointer's seal,
else the record ci-ml wrote with the version) into a folder with its model card,
its training profile and `pulled.json` (what was pulled, the seal it matched).
Any mismatch of sha256, format or trusted types is an IntegrityError (exit 3),
and nothing is left half-written: files land under temporary names first.

`load_pulled` loads that folder's model again, checked against `pulled.json`:
for a serving image built from a pull, the folder is the trust boundary.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import lineage
from ci_ml.bundle import (
    CARD,
    PROFILE,
    LoadedModel,
    ModelFile,
    copy_model,
    open_model,
    plain_name,
    read_json,
    verify,
)
from ci_ml.errors import ConfigError, EnvironmentProblem
from ci_ml.registry.base import user_version

if TYPE_CHECKING:
    import pandas as pd

    from ci_ml.registry.base import Registry

PULLED = "pulled.json"


@dataclass(frozen=True)
class Pulled:
    """A pulled version: where its files are and what it was vouched as."""

    folder: Path
    version: int
    champion: bool
    model_file: ModelFile

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "champion": self.champion,
            "model_file": self.model_file.to_dict(),
            "libraries": dict(self.model_file.libraries),
        }


def pull(registry: Registry, out: Path, number: int | None = None, where: str = "") -> Pulled:
    """Copy version `number` (default: the champion) with its card into `out`, verified."""
    champion = registry.champion()
    if number is None and champion is None:
        raise EnvironmentProblem(f"{where}: no champion yet; nothing to pull")
    chosen = champion if number is None else user_version(registry, number)
    assert chosen is not None  # narrowed above
    _require_ours(out)
    vouched = registry.model_file(chosen.number)
    verify(vouched, f"{where}: version {chosen.number}")
    out.mkdir(parents=True, exist_ok=True)
    is_champion = champion is not None and champion.number == chosen.number
    pulled = Pulled(out, chosen.number, is_champion, _copy(vouched, out))
    _write_json(out / CARD, chosen.card)
    profile = registry.profile(chosen.number)
    if profile is not None:
        _write_json(out / PROFILE, profile)
    _write_json(out / PULLED, pulled.to_dict() | {"registry": where, "pulled_at": lineage.now()})
    return pulled


def _require_ours(out: Path) -> None:
    """Never overwrite what ci-ml did not write: `out` is new, empty or an earlier pull."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"-o {out}: not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / PULLED).is_file():
        raise ConfigError(
            f"-o {out}: the folder holds files that are not a ci-ml pull; choose an empty or "
            "new folder"
        )
    if (out / PULLED).is_file():
        _forget_earlier(out)


def _forget_earlier(out: Path) -> None:
    """An earlier pull's model file, which may have another name (skops vs pickle)."""
    earlier = read_json(out / PULLED, "earlier pull").get("model_file") or {}
    if isinstance(earlier, dict) and earlier.get("file"):
        _remove(out / plain_name(earlier["file"], str(out / PULLED)))
    (out / PULLED).unlink()  # a pull that dies from here on leaves no claim


def _copy(vouched: ModelFile, out: Path) -> ModelFile:
    """The model file copied into `out` and checked again there (the copy is what serves)."""
    target = out / vouched.path.name
    partial = target.with_name(target.name + ".part")
    _remove(partial)
    copy_model(vouched.path, partial)
    copied = ModelFile(partial, vouched.format, vouched.sha256, vouched.size_bytes,
                       vouched.trusted_types, vouched.libraries)  # fmt: skip
    try:
        verify(copied, f"-o {out}")
    except EnvironmentProblem:
        _remove(partial)
        raise
    _remove(target)  # a folder is not replaced by a rename
    partial.replace(target)
    return ModelFile(target, copied.format, copied.sha256, copied.size_bytes,
                     copied.trusted_types, copied.libraries)  # fmt: skip


def _remove(path: Path) -> None:
    """A model file or a Spark ML model folder of an earlier pull, if there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", "utf-8")
    partial.replace(path)


# -- serving ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A pulled model, loaded: `predict` takes raw feature rows as ci-ml evaluated them."""

    model: Any
    version: int
    warnings: tuple[str, ...] = ()

    def predict(self, rows: pd.DataFrame) -> Any:
        from ci_ml.training import model_features

        return self.model.predict(model_features(rows))


def load_pulled(folder: Path) -> Served:
    """Load the model of a pulled folder, checked against its `pulled.json` seal."""
    record = read_json(folder / PULLED, "ci-ml pull record")
    where = str(folder / PULLED)
    model_file = ModelFile.from_dict(
        folder, record.get("model_file"), where, record.get("libraries")
    )
    loaded: LoadedModel = open_model(model_file, f"version {record.get('version')}")
    return Served(loaded.model, int(record.get("version") or 0), loaded.warnings)
