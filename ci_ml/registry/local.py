"""The local registry: a folder, usable by `ci-ml check` and by repos that commit it.

    <path>/versions/<N>/   model file, model-card.json, record.json (sha256)
    <path>/champion.json   {"version": N, "history": [earlier champions]}
    <path>/audit.jsonl     append-only: one JSON line per promotion or rollback

Writes go to a temporary name and are renamed into place, under a lock, so a
crash never leaves a half-written champion and two runs cannot both promote.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ci_ml import lineage
from ci_ml.errors import EnvironmentProblem, IntegrityError
from ci_ml.modelfile import ModelFile, model_file_from_card
from ci_ml.registry.base import Version, Who, rollback_target, stale_champion
from ci_ml.rundir import write_json_atomic

CARD = "model-card.json"
RECORD = "record.json"
CARRIED_FILES = (CARD, "profile.json")


class LocalRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def _versions_dir(self) -> Path:
        return self.path / "versions"

    def versions(self) -> list[Version]:
        if not self._versions_dir.is_dir():
            return []
        numbers = sorted(int(p.name) for p in self._versions_dir.iterdir() if p.name.isdigit())
        return [self.version(n) for n in numbers]

    def version(self, number: int) -> Version:
        folder = self._versions_dir / str(number)
        if not folder.is_dir():
            raise EnvironmentProblem(f"{self.path}: no version {number} in the registry")
        record = _read_json(folder / RECORD)
        card = _read_json(folder / CARD)
        return Version(number, card, str(record.get("created_at", "")), str(record["sha256"]))

    def champion(self) -> Version | None:
        number = self._pointer().get("version")
        return None if number is None else self.version(int(number))

    def model_file(self, number: int) -> ModelFile:
        version = self.version(number)
        folder = self._versions_dir / str(number)
        from_card = model_file_from_card(folder, version.card)
        if from_card.sha256 != version.sha256:
            raise IntegrityError(
                f"{folder / CARD}: model card sha256 differs from the registry record; refusing"
            )
        return from_card

    def profile(self, number: int) -> dict[str, Any] | None:
        path = self._versions_dir / str(number) / "profile.json"
        return _read_json(path) if path.is_file() else None

    def add(self, folder: Path) -> Version:
        card = _read_json(folder / CARD)
        model = model_file_from_card(folder, card)
        with self._locked():
            number = max((v.number for v in self.versions()), default=0) + 1
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self._versions_dir))
            for name in (model.path.name, *CARRIED_FILES):
                if (folder / name).is_file():
                    shutil.copy2(folder / name, staging / name)
            record = {"version": number, "sha256": model.sha256, "created_at": lineage.now()}
            write_json_atomic(staging / RECORD, record)
            os.rename(staging, self._versions_dir / str(number))
        return self.version(number)

    def promote(self, number: int, expected: int | None, who: Who) -> None:
        with self._locked():
            self.version(number)
            pointer = self._pointer()
            current = pointer.get("version")
            if current != expected:
                raise stale_champion(current, expected)
            history = [*pointer.get("history", []), *([current] if current else [])]
            self._move_pointer(number, history, who.entry("promote", number, current))

    def rollback(self, who: Who, to: int | None = None) -> Version:
        with self._locked():
            pointer = self._pointer()
            current, history = pointer.get("version"), list(pointer.get("history", []))
            target, history = rollback_target(current, history, to)
            self.version(target)
            self._move_pointer(target, history, who.entry("rollback", target, current))
        return self.version(target)

    def audit_log(self) -> list[dict[str, Any]]:
        path = self.path / "audit.jsonl"
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _pointer(self) -> dict[str, Any]:
        path = self.path / "champion.json"
        return _read_json(path) if path.is_file() else {}

    def _move_pointer(self, number: int, history: list[int], entry: dict[str, Any]) -> None:
        pointer = {"version": number, "history": history, "updated_at": entry["at"]}
        write_json_atomic(self.path / "champion.json", pointer)
        with (self.path / "audit.jsonl").open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
            log.flush()
            os.fsync(log.fileno())

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        try:
            self._versions_dir.mkdir(parents=True, exist_ok=True)
            handle = (self.path / ".lock").open("a")
        except OSError as exc:
            raise EnvironmentProblem(
                f"{self.path}: registry folder is not writable: {exc.strerror or exc}"
            ) from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{path}: missing from the registry") from exc
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: unreadable or corrupt: {exc}") from exc
    return data
