"""Registries: where the champion lives between CI jobs.

The config chooses the backend (`registry.backend`); credentials come from the
environment only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_ml.errors import ConfigError

if TYPE_CHECKING:
    from ci_ml.config import Config, RegistryConfig
    from ci_ml.environment import Environment
    from ci_ml.registry.base import Registry
    from ci_ml.rundir import RunDir

BACKENDS = ("local", "mlflow", "github-releases")


def open_registry(
    config: Config, env: Environment | None = None, run: RunDir | None = None, reuse: bool = True
) -> Registry:
    """The configured backend; `env` (default: the process's) holds its credentials.
    With `run`, a github-releases champion is read once per run folder: the first stage
    (`reuse=False`) records what it read there, later stages compare against that."""
    settings = config.registry
    if settings.backend == "local":
        from ci_ml.registry.local import LocalRegistry

        return LocalRegistry(settings.path)
    if settings.backend == "mlflow":
        from ci_ml.registry.mlflow import open_mlflow

        return open_mlflow(settings, env)
    if settings.backend == "github-releases":
        from ci_ml.registry.github_releases import ChampionReads, open_github_releases

        reads = None if run is None else ChampionReads(run.champion_read, reuse)
        return open_github_releases(config, reads)
    allowed = ", ".join(repr(b) for b in BACKENDS)
    raise ConfigError(
        f"registry.backend: unknown backend {settings.backend!r}; expected one of {allowed}"
    )


def describe(settings: RegistryConfig) -> str:
    """Where the registry lives, for messages (never with credentials)."""
    if settings.backend == "mlflow":
        from ci_ml.registry.mlflow import safe_uri

        uri = safe_uri(settings.tracking_uri or "$MLFLOW_TRACKING_URI")
        return f"MLflow model {settings.model_name!r} at {uri}"
    if settings.backend == "github-releases":
        where = settings.repository or "$GITHUB_REPOSITORY"
        return f"GitHub releases {settings.tag_prefix}v<N> of {where}"
    return str(settings.path)
