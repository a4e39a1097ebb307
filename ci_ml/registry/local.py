"""The local registry: a folder, usable by `ci-ml check` and by repos that commit it.

    <path>/versions/<N>/   the model bundle: model file, model-card.json, profile.json,
                           record.json (the seal: file, sha256, format, trusted types)
    <path>/champion.json   {"version": N, "history": [earlier champions],
                            "models": {N: seal, earlier: seal}, "audit": last entry}
    <path>/audit.jsonl     append-only: one JSON line per promotion or rollback

Trust: a version that is or was champion loads only if its file matches the seal in
champion.json, whatever its record and card say (they travel with the file).

All-or-nothing: a promotion or rollback is one atomic rename of champion.json, which
carries its own audit entry. The entry is then appended to audit.jsonl; if that
append fails (a full disk, a kill), the entry is still in the pointer: the audit
reader shows it, and the next change (or rerun) appends it first. So champion and
audit never disagree. Writes go to a temporary name and are renamed into place,
under a lock (filelock: Linux, macOS, Windows), so two runs cannot both promote.
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
from ci_ml.bundle import RECORD, ModelBundle, ModelFile, copy_model, read_json, share
from ci_ml.errors import EnvironmentProblem, IntegrityError
from ci_ml.registry.base import (
    AUDIT,
    POINTER,
    MissingVersion,
    Version,
    Who,
    parse_audit,
    rollback_target,
    stale_champion,
)
from ci_ml.rundir import sync_folder, sync_tree, write_json_atomic

INCOMING = ".incoming-"
LOCK_SECONDS = 300


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
        folder = self._folder(number)
        record = read_json(folder / RECORD, "registry record")
        card = ModelBundle.read(folder).card
        sha = record.get("sha256")
        if not isinstance(sha, str):
            raise IntegrityError(f"{folder / RECORD}: registry record has no sha256; refusing it")
        return Version(number, card, str(record.get("created_at", "")), sha)

    def _folder(self, number: int) -> Path:
        folder = self._versions_dir / str(number)
        if not folder.is_dir():
            raise MissingVersion(str(self.path), number)
        return folder

    def champion(self) -> Version | None:
        number = self._pointer().get("version")
        return None if number is None else self.version(int(number))

    def model_file(self, number: int) -> ModelFile:
        folder = self._folder(number)
        record = read_json(folder / RECORD, "registry record")
        seal = (self._pointer().get("models") or {}).get(str(number))
        return ModelBundle.read(folder).vouched(seal, record, f"{self.path} version {number}")

    def profile(self, number: int) -> dict[str, Any] | None:
        return ModelBundle.read(self._folder(number)).profile()

    def add(self, folder: Path) -> Version:
        bundle = ModelBundle.read(folder)
        with self._locked():
            versions = self.versions()
            if versions and bundle.stored_as(versions[-1]):
                return versions[-1]
            number = max((v.number for v in versions), default=0) + 1
            staging = Path(tempfile.mkdtemp(prefix=INCOMING, dir=self._versions_dir))
            for path in bundle.files():
                copy_model(path, staging / path.name)
            write_json_atomic(staging / RECORD, bundle.record(number, lineage.now()))
            share(staging / RECORD)
            os.chmod(staging, 0o755)
            sync_tree(staging)  # on disk before any pointer can name it
            os.rename(staging, self._versions_dir / str(number))
            sync_folder(self._versions_dir)
        return self.version(number)

    def promote(self, number: int, expected: int | None, who: Who) -> None:
        with self._locked():
            self.version(number)
            pointer = self._pointer()
            current = pointer.get("version")
            if current == number and pointer.get("audit", {}).get("event") == "promote":
                return  # a rerun of the promotion that moved it: completed by _locked
            if current != expected:
                raise stale_champion(current, expected)
            history = [*pointer.get("history", []), *([current] if current else [])]
            self._move_pointer(pointer, number, history, who.entry("promote", number, current))

    def rollback(self, who: Who, to: int | None = None) -> Version:
        with self._locked():
            pointer = self._pointer()
            current, history = pointer.get("version"), list(pointer.get("history", []))
            target, history = rollback_target(current, history, to)
            self.version(target)
            entry = who.entry("rollback", target, current)
            self._move_pointer(pointer, target, history, entry)
        return self.version(target)

    def audit_log(self, fresh: bool = True) -> list[dict[str, Any]]:
        """Every entry in order; a torn line is reported as an `unreadable` entry, and
        the entry of a change whose append has not landed yet comes from the pointer."""
        entries = parse_audit(self._log_text())
        pending = self._pointer().get("audit")
        if pending and pending not in entries:
            entries.append(pending)
        return entries

    def note(self, entry: dict[str, Any]) -> None:
        with self._locked():
            append_line(self.path / AUDIT, json.dumps(entry, sort_keys=True, default=str) + "\n")

    def _log_text(self) -> str:
        path = self.path / AUDIT
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def _pointer(self) -> dict[str, Any]:
        path = self.path / POINTER
        return read_json(path, "champion pointer") if path.is_file() else {}

    def _move_pointer(
        self, old: dict[str, Any], number: int, history: list[int], entry: dict[str, Any]
    ) -> None:
        """The one atomic write of a change; the audit append after it may be redone."""
        seals = old.get("models") or {}
        keep = {str(v) for v in [*history, number]}
        seals = {k: v for k, v in seals.items() if k in keep}
        if str(number) not in seals:
            seals[str(number)] = self._record_seal(number)
        pointer = {
            "version": number,
            "history": history,
            "updated_at": entry["at"],
            "models": seals,
            "audit": entry,
        }
        share_pointer(self.path / POINTER, pointer)
        with contextlib.suppress(OSError):  # a full disk: the pointer keeps the entry
            self._complete_audit(pointer)

    def _record_seal(self, number: int) -> dict[str, Any]:
        """The seal a version never champion before gets: its checked record."""
        return self.model_file(number).to_dict()

    def _complete_audit(self, pointer: dict[str, Any]) -> None:
        """Append the pointer's entry unless the log has it (a rerun after a crash)."""
        entry = pointer.get("audit")
        text = self._log_text()
        if not entry or entry in parse_audit(text):
            return
        torn = bool(text) and not text.endswith("\n")
        line = ("\n" if torn else "") + json.dumps(entry, sort_keys=True, default=str) + "\n"
        append_line(self.path / AUDIT, line)

    def _clean_leftovers(self) -> None:
        """Staging folders and temp files of killed runs; under the lock none is live."""
        for left in self._versions_dir.glob(INCOMING + "*"):
            shutil.rmtree(left, ignore_errors=True)
        for left in self.path.glob(f".{POINTER}.*.tmp"):
            left.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        from filelock import FileLock, Timeout

        try:
            self._versions_dir.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.path / ".lock", timeout=LOCK_SECONDS)
            with lock:
                self._clean_leftovers()
                self._complete_audit(self._pointer())
                yield
        except Timeout as exc:
            raise EnvironmentProblem(
                f"{self.path}: another ci-ml run held the registry lock for {LOCK_SECONDS}s"
            ) from exc
        except OSError as exc:
            raise EnvironmentProblem(
                f"{self.path}: registry folder is not writable: {exc.strerror or exc}"
            ) from exc


def share_pointer(path: Path, pointer: dict[str, Any]) -> None:
    write_json_atomic(path, pointer)
    share(path)


def append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as log:
        log.write(line)
        log.flush()
        os.fsync(log.fileno())
    share(path)
