"""A run killed at any point of a promotion or rollback leaves champion, versions and
audit log agreeing, and running the same change again completes it.

The kill is simulated at the backend's own write calls (a file rename or append, a
GitHub ref or commit, an MLflow tag or alias request): at write k, either before it
reaches the registry or after it did (the answer lost), and every later write of the
dead run fails too, as it would in a killed process."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ci_ml.registry.base import Registry, RegistryRefused
from tests.github_support import REPO
from tests.registry_support import (
    WHO,
    Backend,
    add,
    github_backend,
    local_backend,
    mlflow_backend,
)


class Killed(OSError):
    """The run died here (an OSError: what a dead disk or connection raises)."""


@contextmanager
def killed_at(backend: Backend, k: int, after: bool) -> Iterator[list[str]]:
    """Patch every write of `backend`: the k-th write (1-based) dies, before or after
    doing its work, and so does every write after it. Yields the writes made."""
    made: list[str] = []
    patch = pytest.MonkeyPatch()

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            made.append(name)
            if len(made) < k:
                return real(*args, **kwargs)
            if len(made) == k and after:
                real(*args, **kwargs)
            raise Killed(f"killed at write {len(made)} ({name})")

        return write

    for owner, name in backend.writes:
        patch.setattr(owner, name, wrap(name, getattr(owner, name)))
    try:
        yield made
    finally:
        patch.undo()


def prepared(make: Callable[[], Backend], tmp_path: Path) -> Backend:
    """Versions 1 and 2, champion 1."""
    backend = make()
    add(backend, tmp_path, "a", "b")
    backend.registry.promote(1, None, WHO)
    return backend


Start = Callable[[Path], Backend]  # a registry as it is just before the change


def start_of(make: Callable[[], Backend], change: str) -> Start:
    """Prepared from scratch: versions 1 and 2, champion 1 (2 before a rollback)."""

    def start(where: Path) -> Backend:
        backend = prepared(make, where)
        if change == "rollback":
            promote(backend.registry)
        return backend

    return start


def events(registry: Registry) -> list[tuple[str, int, int | None]]:
    return [(e["event"], e["version"], e["previous"]) for e in registry.audit_log()]


def promote(registry: Registry) -> None:
    registry.promote(2, 1, WHO)


def rollback(registry: Registry) -> None:
    registry.rollback(WHO, to=1)


def rerun(change: str, registry: Registry) -> None:
    """The same change again. A rollback that landed is refused as done ("already the
    champion"), and its audit entry is completed all the same."""
    try:
        CHANGES[change][0](registry)
    except RegistryRefused as refused:
        assert change == "rollback" and "already the champion" in refused.message


CHANGES = {
    "promote": (promote, [("promote", 1, None), ("promote", 2, 1)], 2),
    "rollback": (rollback, [("promote", 1, None), ("promote", 2, 1), ("rollback", 1, 2)], 1),
}


def writes_of(start: Start, tmp_path: Path, change: str) -> int:
    """How many writes one whole change makes (counted, not assumed)."""
    backend = start(tmp_path / "count")
    with killed_at(backend, 10_000, after=False) as made:
        CHANGES[change][0](backend.fresh())
    assert made, "the change made no write the test can kill"
    return len(made)


def check_every_kill_point(start: Start, tmp_path: Path, change: str) -> None:
    run, done, champion = CHANGES[change]
    before = done[:-1]
    total = writes_of(start, tmp_path, change)
    for k in range(1, total + 1):
        for after in (False, True):
            where = tmp_path / f"k{k}{'after' if after else 'before'}"
            backend = start(where)
            with killed_at(backend, k, after) as made, contextlib.suppress(Exception):
                run(backend.fresh())  # a kill after the commit point may be survived
            assert len(made) >= k
            survivor = backend.fresh()
            state = (survivor.champion().number, events(survivor))
            expected_states = [(before[-1][1], before), (champion, done)]
            assert state in expected_states, f"killed at write {k} ({after=}): {state}"
            assert [v.number for v in survivor.versions()] == [1, 2]
            rerun(change, backend.fresh())  # completes what was left
            assert (backend.fresh().champion().number, events(backend.fresh())) == (
                champion,
                done,
            ), f"rerun after a kill at write {k} ({after=})"
            check_stored_log(backend, done)


def check_stored_log(backend: Backend, done: list[tuple[str, int, int | None]]) -> None:
    """After the rerun the entries are in the log itself, not only carried by a pointer."""
    if backend.name == "local":
        lines = (backend.registry.path / "audit.jsonl").read_text().splitlines()  # type: ignore[attr-defined]
        assert len(lines) == len(done)
    if backend.name == "mlflow":
        tags = backend.registry._state()[1]  # type: ignore[attr-defined]
        assert "ci-ml.pending" not in tags
        assert len([t for t in tags if t.startswith("ci-ml.audit.")]) == len(done)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_local_kill_points(tmp_path, change):
    counter = iter(range(1000))
    make = lambda: local_backend(tmp_path / f"r{next(counter)}")  # noqa: E731
    check_every_kill_point(start_of(make, change), tmp_path, change)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_github_releases_kill_points(tmp_path, fake_github, change):
    fakes = iter(range(1000))

    def make() -> Backend:
        fake_github.state.repos.clear()  # a fresh repository for each kill point
        fake_github.state.repo(REPO)
        return github_backend(tmp_path / f"r{next(fakes)}", fake_github)

    check_every_kill_point(start_of(make, change), tmp_path, change)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_mlflow_kill_points(tmp_path, mlflow_server, model_name, change):
    from ci_ml.registry.mlflow import Lease

    # a dead run's lease expires fast; the window leaves an ordinary write room on a
    # loaded machine, so every run makes the same writes and each kill point is the same
    lease = Lease(ttl=4, window=1.5, settle=1.6, wait=30)

    def make() -> Backend:
        return mlflow_backend(tmp_path / "r", mlflow_server.uri, model_name, lease)

    check_every_kill_point(restoring(start_of(make, change), tmp_path), tmp_path, change)


Snapshot = tuple[dict[str, str], dict[str, str]]  # the registered model's tags, aliases


def restoring(start: Start, tmp_path: Path) -> Start:
    """The start prepared once, then restored before each kill point instead of
    registering two versions and promoting again (seconds each, with the lease's settle).
    A promotion or rollback writes only the registered model's tags and aliases (the
    backend's `writes`), so putting those back is the prepared registry again."""
    backend = start(tmp_path / "prepared")
    client = backend.registry._client  # type: ignore[attr-defined]
    name: str = backend.registry.name  # type: ignore[attr-defined]

    def snapshot() -> Snapshot:
        model = client.get_registered_model(name)
        return dict(model.tags or {}), {k: str(v) for k, v in (model.aliases or {}).items()}

    prepared_state = snapshot()

    def again(where: Path) -> Backend:
        tags, aliases = snapshot()
        for key in tags.keys() - prepared_state[0].keys():
            client.delete_registered_model_tag(name, key)
        for key, value in prepared_state[0].items():
            client.set_registered_model_tag(name, key, value)
        for alias in aliases.keys() - prepared_state[1].keys():
            client.delete_registered_model_alias(name, alias)
        for alias, version in prepared_state[1].items():
            client.set_registered_model_alias(name, alias, version)
        assert snapshot() == prepared_state
        return backend

    return again
