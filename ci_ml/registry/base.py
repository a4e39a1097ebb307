"""The registry interface: where champions outlast a CI job.

Every backend keeps numbered versions (1, 2, 3…), each a model file with its
model card and sha256; a champion pointer moved only by compare-and-swap; and
an append-only audit log.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ci_ml.bundle import ModelFile
from ci_ml.errors import USAGE, VERDICT, CiMlError, EnvironmentProblem

# The pointer and the audit log by the names people read them under, in a folder or on
# the registry branch alike.
POINTER = "champion.json"
AUDIT = "audit.jsonl"


@dataclass(frozen=True)
class Version:
    number: int
    card: dict[str, Any]
    created_at: str
    sha256: str

    def to_dict(self, champion: int | None = None) -> dict[str, Any]:
        return {
            "version": self.number,
            "champion": self.number == champion,
            "created_at": self.created_at,
            "sha256": self.sha256,
            "estimator": self.card.get("estimator"),
            "metrics": self.card.get("metrics", {}),
            "commit": (self.card.get("git") or {}).get("commit"),
        }


@dataclass(frozen=True)
class Who:
    """Who asks for a champion change, from which commit, why, with what evidence."""

    actor: str
    at: str
    commit: str | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def entry(self, event: str, version: int, previous: int | None) -> dict[str, Any]:
        """The audit record of one promotion or rollback; its id tells two identical
        changes in the same second apart (a rerun recognises its own entry by it)."""
        return {
            "id": uuid.uuid4().hex,
            "event": event,
            "version": version,
            "previous": previous,
            "actor": self.actor,
            "at": self.at,
            "commit": self.commit,
            "reason": self.reason,
            **self.details,
        }


class RegistryRefused(CiMlError):
    """The registry refused a change: the champion moved since this run compared
    (compare-and-swap lost), or there is nothing to roll back to."""

    exit_code = VERDICT


class MissingVersion(EnvironmentProblem):
    """The registry holds no version `number`: an environment problem when a pointer
    names it (exit 3), the user's mistake when they did (`user_version`, exit 2)."""

    def __init__(self, where: str, number: int, detail: str = "in the registry") -> None:
        super().__init__(f"{where}: no version {number} {detail}")
        self.number = number


class UnknownVersion(CiMlError):
    """A version number a user asked for that the registry does not hold."""

    exit_code = USAGE


SHOWN_AT_EACH_END = 3  # versions listed from each end of a long registry


def unknown_version(registry: Registry, missing: MissingVersion) -> UnknownVersion:
    """The usage error for a version a user named, listing the versions there are."""
    try:
        numbers = [version.number for version in registry.versions()]
    except EnvironmentProblem:  # the listing is a courtesy: the mistake is still named
        return UnknownVersion(missing.message)
    return UnknownVersion(f"{missing.message}; {held_versions(numbers)}")


def held_versions(numbers: list[int]) -> str:
    """`it holds versions 1, 2, 3, …, 48, 49, 50`: the first and last few."""
    if not numbers:
        return "it holds no versions yet"
    shown = [str(n) for n in numbers]
    if len(shown) > 2 * SHOWN_AT_EACH_END:
        shown = [*shown[:SHOWN_AT_EACH_END], "…", *shown[-SHOWN_AT_EACH_END:]]
    return f"it holds version{'s' if len(numbers) > 1 else ''} {', '.join(shown)}"


def user_version(registry: Registry, number: int) -> Version:
    """Version `number` as a user asked for it (`registry show N`, `pull --version N`)."""
    try:
        return registry.version(number)
    except MissingVersion as missing:
        raise unknown_version(registry, missing) from missing


class Registry(Protocol):
    """What every backend offers; the shared contract tests exercise exactly this."""

    def versions(self) -> list[Version]: ...

    def version(self, number: int) -> Version: ...

    def champion(self) -> Version | None: ...

    def model_file(self, number: int) -> ModelFile:
        """A local copy of the version's model file with the sha256 it must have."""
        ...

    def profile(self, number: int) -> dict[str, Any] | None:
        """The training-data profile stored with the version (for drift), if any."""
        ...

    def add(self, folder: Path) -> Version:
        """Store a trained model folder (model file + model-card.json) as the next version."""
        ...

    def promote(self, number: int, expected: int | None, who: Who) -> None:
        """Make `number` the champion if the champion is still `expected`."""
        ...

    def rollback(self, who: Who, to: int | None = None) -> Version:
        """Restore the previous champion (or version `to`) and log it."""
        ...

    def audit_log(self, fresh: bool = True) -> list[dict[str, Any]]:
        """The audit entries, oldest first. `fresh=False` allows the log as this process
        last read it (with the champion), for display: no extra request."""
        ...

    def note(self, entry: dict[str, Any]) -> None:
        """Append an audit entry that moves no champion (an `announce` entry)."""
        ...


def rollback_target(
    current: int | None, history: list[int], to: int | None
) -> tuple[int, list[int]]:
    """The version a rollback restores, and the champion history left after it.

    `history` lists earlier champions, oldest first. Without `to`, the last one
    comes back; a chosen version that was champion before cuts the history back
    to before it; any other version is restored with the history unchanged.
    """
    if to is None:
        if current is None:
            raise RegistryRefused(
                "nothing to roll back to: there is no champion yet (the registry has no promotions)"
            )
        if not history:
            raise RegistryRefused(
                f"nothing to roll back to: version {current} is the first champion "
                "(there is no earlier champion to restore)"
            )
        return history[-1], history[:-1]
    if to == current:
        raise RegistryRefused(f"version {to} is already the champion")
    if to in history:
        return to, history[: len(history) - 1 - history[::-1].index(to)]
    return to, history


def replay_history(entries: list[dict[str, Any]]) -> list[int]:
    """The champion history (earlier champions, oldest first) implied by an audit log.

    A promotion (or a recorded outside move) pushes the champion it replaced;
    a rollback cuts the history back as `rollback_target` did when it ran.
    """
    history: list[int] = []
    for entry in entries:
        version, previous = entry.get("version"), entry.get("previous")
        if entry.get("event") == "rollback":
            if version in history:
                history = history[: len(history) - 1 - history[::-1].index(version)]
        elif previous is not None:
            history.append(int(previous))
    return history


def parse_audit(text: str) -> list[dict[str, Any]]:
    """Audit entries from JSON lines; a torn or corrupt line becomes an `unreadable`
    entry (shown by `registry history`), never a crash."""
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            reason = f"line {number} of the audit log is torn or corrupt: {line[:80]!r}"
            entry = {"event": "unreadable", "line": number, "reason": reason}
        entries.append(entry)
    return entries


def version_name(number: int | None) -> str:
    return "no champion" if number is None else f"version {number}"


def stale_champion(current: int | None, expected: int | None) -> RegistryRefused:
    """The refusal when compare-and-swap finds another champion than expected."""
    return RegistryRefused(
        f"not promoted: the champion is now {version_name(current)}, but this run "
        f"compared against {version_name(expected)}; run again to compare with it"
    )
