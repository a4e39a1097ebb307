"""Helpers shared by the registry tests: a trained model folder, a requester, and each
backend with the ways a test (or an attacker) reaches behind ci-ml's back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from ci_ml.bundle import save_model, save_spark_pipeline
from ci_ml.registry.base import Registry, Who

WHO = Who(actor="tester", at="2026-01-01T00:00:00+00:00", commit="abc", reason="test")


def trained_folder(tmp_path: Path, name: str, extra: dict[str, Any] | None = None) -> Path:
    """A challenger folder as `ci-ml train` writes it: model file and model card."""
    folder = tmp_path / name
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    model_file = save_model(model, folder)
    card = {
        "name": name,
        "estimator": "sklearn.linear_model.LogisticRegression",
        "model_file": model_file.to_dict(),
        "git": {"commit": "c0ffee" + name, "dirty": False},
        "data": {"train": {"sha256": "1" * 64}, "eval": {"sha256": "2" * 64}},
        "metrics": {"accuracy": 0.75, "f1": 0.5},
        "libraries": dict(model_file.libraries),
        **(extra or {}),
    }
    (folder / "model-card.json").write_text(json.dumps(card))
    return folder


def spark_model_folder(root: Path, coefficients: str = "coefficients") -> Path:
    """The layout PipelineModel's writer leaves (the content does not matter to the seal)."""
    for name, text in {
        "metadata/part-00000": '{"class":"pyspark.ml.PipelineModel"}',
        "metadata/_SUCCESS": "",
        "metadata/.part-00000.crc": "crc",
        "stages/0_VectorAssembler/metadata/part-00000": '{"inputCols":["a"]}',
        "stages/1_LogisticRegression/data/part-00000.parquet": coefficients,
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def trained_spark_folder(tmp_path: Path, name: str) -> Path:
    """A challenger folder whose model is a Spark ML PipelineModel folder (built without
    Spark: the registries store and seal it without loading it)."""
    folder = tmp_path / name
    written = spark_model_folder(tmp_path / f"{name}-written", f"coefficients of {name}")
    model_file = save_spark_pipeline(written, folder)
    card = {
        "name": name,
        "estimator": "pyspark.ml.PipelineModel",
        "model_file": model_file.to_dict(),
        "git": {"commit": "c0ffee" + name, "dirty": False},
        "metrics": {"accuracy": 0.75},
        "libraries": dict(model_file.libraries),
    }
    (folder / "model-card.json").write_text(json.dumps(card))
    return folder


@dataclass
class Backend:
    name: str
    registry: Registry
    fresh: Callable[[], Registry]  # another client of the same registry (another run)
    tamper_file: Callable[[int], None]  # change the stored model file's bytes
    tamper_record: Callable[[int], None]  # change the registry's sha256 record
    # What someone with write access to the stored bundle can do: (version, file
    # name, new bytes). The names are the bundle's: the model file, the card, record.json.
    replace: Callable[[int, str, bytes], None]
    stored: Callable[[int, str], bytes]
    # (owner, method name) pairs: every write a promotion or rollback makes goes
    # through one of them, so a crash test can kill the run at any of them.
    writes: list[tuple[Any, str]]


def local_backend(tmp_path: Path) -> Backend:
    from ci_ml.registry import local
    from ci_ml.registry.local import LocalRegistry

    path = tmp_path / "registry"

    def tamper_file(number: int) -> None:
        model = next((path / "versions" / str(number)).glob("model.*"))
        model.write_bytes(model.read_bytes()[:-10])

    def tamper_record(number: int) -> None:
        record = path / "versions" / str(number) / "record.json"
        record.write_text(json.dumps(json.loads(record.read_text()) | {"sha256": "0" * 64}))

    def replace(number: int, name: str, content: bytes) -> None:
        (path / "versions" / str(number) / name).write_bytes(content)

    def stored(number: int, name: str) -> bytes:
        return (path / "versions" / str(number) / name).read_bytes()

    writes = [(local, "share_pointer"), (local, "append_line")]
    return Backend(
        "local", LocalRegistry(path), lambda: LocalRegistry(path), tamper_file, tamper_record,
        replace, stored, writes,
    )  # fmt: skip


def mlflow_backend(tmp_path: Path, uri: str, name: str, lease: Any = None) -> Backend:
    from mlflow import MlflowClient

    from ci_ml.registry.mlflow import CARD_TAG, Lease, MlflowRegistry

    lease = lease or Lease(ttl=30, window=0.3, settle=0.4, wait=60)

    def make() -> MlflowRegistry:
        return MlflowRegistry(uri, name, lease)

    registry = make()
    client = registry._client

    def tamper_file(number: int) -> None:
        version = client.get_model_version(name, str(number))
        replace(number, version.tags["model_file"], b"not the model that was registered")

    def tamper_record(number: int) -> None:
        client.set_model_version_tag(name, str(number), "sha256", "0" * 64)

    def replace(number: int, file: str, content: bytes) -> None:
        """The run's artifacts (and the card's copy in a version tag); the version's
        seal tags are the registry's own record and stay as registered."""
        version = client.get_model_version(name, str(number))
        bad = tmp_path / "attacker" / str(number) / file
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(content)
        client.log_artifact(version.run_id, str(bad), "ci-ml")
        if file == "model-card.json":
            client.set_model_version_tag(name, str(number), CARD_TAG, content.decode())

    def stored(number: int, file: str) -> bytes:
        version = client.get_model_version(name, str(number))
        folder = tmp_path / "read" / str(number)
        folder.mkdir(parents=True, exist_ok=True)
        return Path(
            client.download_artifacts(version.run_id, f"ci-ml/{file}", str(folder))
        ).read_bytes()

    writes = [
        (MlflowClient, "set_registered_model_tag"),
        (MlflowClient, "set_registered_model_alias"),
        (MlflowClient, "delete_registered_model_tag"),
    ]
    return Backend("mlflow", registry, make, tamper_file, tamper_record, replace, stored, writes)


def github_backend(tmp_path: Path, fake: Any) -> Backend:
    from ci_ml.github import ReleaseStore
    from ci_ml.registry.github_releases import GitHubReleasesRegistry
    from tests.github_support import FAST, REPO, settings_for

    counter = iter(range(10_000))

    def make() -> GitHubReleasesRegistry:
        from ci_ml.github import releases

        releases.forget()  # a separate CI job: nothing kept in memory from another client
        cache = tmp_path / f"cache{next(counter)}"
        return GitHubReleasesRegistry.connect(
            settings_for(fake, None), REPO, "demo", None, cache, FAST
        )

    def asset(number: int, name: str) -> dict[str, Any]:
        state = fake.state.repo(REPO)
        (release,) = [
            r for r in state.releases.values() if r["tag_name"] == f"ci-ml/demo/v{number}"
        ]
        names = [a for a in state.assets.values() if a["release"] == release["id"]]
        return next(a for a in names if a["name"] == name or a["name"].startswith(name))

    def tamper_file(number: int) -> None:
        found = asset(number, "model.")
        found["content"] = found["content"][:-10]

    def tamper_record(number: int) -> None:
        found = asset(number, "record.json")
        found["content"] = json.dumps(json.loads(found["content"]) | {"sha256": "0" * 64}).encode()

    def replace(number: int, name: str, content: bytes) -> None:
        asset(number, name)["content"] = content

    def stored(number: int, name: str) -> bytes:
        content: bytes = asset(number, name)["content"]
        return content

    writes = [(ReleaseStore, n) for n in ("create_commit", "create_ref", "advance_ref")]
    return Backend(
        "github-releases", make(), make, tamper_file, tamper_record, replace, stored, writes
    )


def add(backend: Backend, tmp_path: Path, *names: str) -> list[int]:
    return [backend.registry.add(trained_folder(tmp_path, n)).number for n in names]


MLFLOW = pytest.param("mlflow", marks=pytest.mark.mlflow)


@pytest.fixture(params=["local", MLFLOW, "github-releases"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield local_backend(tmp_path)
        return
    if request.param == "github-releases":
        yield github_backend(tmp_path, request.getfixturevalue("fake_github"))
        return
    server = request.getfixturevalue("mlflow_server")
    yield mlflow_backend(tmp_path, server.uri, request.getfixturevalue("model_name"))
