"""Shared fixtures: the fake GitHub REST server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakegithub import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake GitHub on 127.0.0.1 (random port); `.url` is PyGithub's base_url."""
    fake = FakeGitHub().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_ghe() -> Iterator[FakeGitHub]:
    """The same fake, addressed GitHub Enterprise style: `.url` ends with /api/v3."""
    fake = FakeGitHub(prefix="/api/v3").start()
    yield fake
    fake.stop()
