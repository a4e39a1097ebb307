"""Registries: where the champion lives between CI jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.config import Config
    from ci_ml.registry.base import Registry


def open_registry(config: Config) -> Registry:
    if config.registry.backend == "local":
        from ci_ml.registry.local import LocalRegistry

        return LocalRegistry(config.registry.path)
    if config.registry.backend == "github-releases":
        from ci_ml.registry.github_releases import open_github_releases

        return open_github_releases(config)
    raise ConfigError(f"registry.backend: unknown backend {config.registry.backend!r}")
