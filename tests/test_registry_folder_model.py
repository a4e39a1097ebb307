"""A Spark ML PipelineModel folder in every registry: stored (one deterministic archive
where a backend keeps one file per model), served back into the cache only after the
folder matches the champion pointer's seal, promoted, rolled back and pulled.

The folders here are built without Spark: no registry loads them, and what the seal
covers (every file's relative path and bytes) does not depend on what they hold."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_ml.bundle import sha256_path
from ci_ml.errors import ENVIRONMENT, IntegrityError
from ci_ml.folder_archive import pack
from ci_ml.registry.base import Registry
from ci_ml.registry.pull import pull
from tests.registry_support import (
    MLFLOW,
    WHO,
    Backend,
    backend,
    github_backend,
    mlflow_backend,
    spark_model_folder,
    trained_spark_folder,
)

__all__ = ["backend"]  # the fixture

ARCHIVE = "model.sparkml.tar"


def add_spark(registry: Registry, tmp_path: Path, *names: str) -> list[int]:
    return [registry.add(trained_spark_folder(tmp_path, name)).number for name in names]


def served(registry: Registry, number: int, tmp_path: Path, name: str) -> None:
    """The version's folder, in the cache, is the very folder that was trained."""
    model = registry.model_file(number)
    assert model.format == "spark-pipeline" and model.path.name == "model.sparkml"
    assert model.path.is_dir() and (model.path / "metadata").is_dir()
    assert sha256_path(model.path) == sha256_path(tmp_path / name / "model.sparkml")
    assert sha256_path(model.path) == model.sha256


def test_a_folder_model_is_stored_promoted_rolled_back_and_served(backend, tmp_path):
    registry = backend.registry
    assert add_spark(registry, tmp_path, "a", "b") == [1, 2]
    registry.promote(1, None, WHO)
    registry.promote(2, 1, WHO)
    fresh = backend.fresh()  # the next PR's job: reads the champion into its own cache
    assert fresh.champion().number == 2
    served(fresh, 2, tmp_path, "b")
    assert registry.rollback(WHO).number == 1
    again = backend.fresh()
    assert again.champion().number == 1
    served(again, 1, tmp_path, "a")
    pulled = pull(again, tmp_path / "pulled", where=backend.name)
    assert pulled.model_file.path == tmp_path / "pulled" / "model.sparkml"
    assert sha256_path(pulled.model_file.path) == pulled.model_file.sha256
    assert pull(again, tmp_path / "pulled", 2, backend.name).version == 2  # over a folder


def test_storing_the_same_folder_again_adds_no_version(backend, tmp_path):
    folder = trained_spark_folder(tmp_path, "a")
    assert backend.registry.add(folder).number == 1
    assert backend.fresh().add(folder).number == 1
    assert [v.number for v in backend.registry.versions()] == [1]


# -- the archive, on the registries that keep one file per model ------------------------


@pytest.fixture(params=["github-releases", MLFLOW])
def one_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "github-releases":
        yield github_backend(tmp_path, request.getfixturevalue("fake_github"))
        return
    server = request.getfixturevalue("mlflow_server")
    yield mlflow_backend(tmp_path, server.uri, request.getfixturevalue("model_name"))


def test_the_folder_is_stored_as_one_deterministic_archive(one_file, tmp_path):
    add_spark(one_file.registry, tmp_path, "a")
    with tarfile.open(fileobj=io.BytesIO(one_file.stored(1, ARCHIVE))) as stored:
        members = stored.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and "metadata/.part-00000.crc" in names
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    elsewhere = tmp_path / "again" / "model.sparkml"  # same files, other times and modes
    shutil.copytree(tmp_path / "a" / "model.sparkml", elsewhere, copy_function=shutil.copyfile)
    for path in elsewhere.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o700 if path.is_dir() else 0o600)
    repacked = pack(elsewhere, tmp_path / "again" / ARCHIVE)
    assert repacked.read_bytes() == one_file.stored(1, ARCHIVE)  # same folder, same bytes


def tar_bytes(*entries: tarfile.TarInfo, content: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for entry in entries:
            if entry.isreg():
                entry.size = len(content)
                tar.addfile(entry, io.BytesIO(content))
            else:
                tar.addfile(entry)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def tampered_archive(tmp_path: Path) -> bytes:
    """A well-formed archive of a folder as large as the sealed one, one byte changed."""
    folder = spark_model_folder(tmp_path / "evil" / "model.sparkml", "coefficients of A")
    return pack(folder, tmp_path / "evil" / ARCHIVE).read_bytes()


BIG = b"x" * 10**6  # more bytes than the sealed folder holds

UNSAFE = {  # attack: (the archive, what the refusal says)
    "absolute path": (lambda tmp: tar_bytes(entry(str(tmp / "outside" / "owned"))), "absolute"),
    "dot-dot": (lambda tmp: tar_bytes(entry("metadata/../../../outside/owned")), "'..'"),
    "symlink": (
        lambda tmp: tar_bytes(entry("metadata", tarfile.SYMTYPE, str(tmp / "outside"))),
        "a link to",
    ),
    "hard link": (lambda tmp: tar_bytes(entry("m", tarfile.LNKTYPE, "/etc/passwd")), "a link"),
    "device": (lambda tmp: tar_bytes(entry("metadata/dev", tarfile.CHRTYPE)), "a device"),
    "fifo": (lambda tmp: tar_bytes(entry("metadata/pipe", tarfile.FIFOTYPE)), "a device or pipe"),
    "twice": (lambda tmp: tar_bytes(entry("m"), entry("./m")), "twice"),
    "not a tar": (lambda tmp: b"not an archive at all" * 100, "unreadable"),
    "bigger than sealed": (
        lambda tmp: tar_bytes(entry("metadata/part-00000"), content=BIG),
        "bytes of files, its seal says",
    ),
    "tampered": (tampered_archive, "does not match its record"),
}


@pytest.mark.parametrize("attack", UNSAFE)
def test_an_unsafe_or_tampered_archive_is_refused_and_nothing_is_extracted(
    one_file, tmp_path, attack
):
    add_spark(one_file.registry, tmp_path, "a")
    one_file.registry.promote(1, None, WHO)
    (tmp_path / "outside").mkdir()
    make, says = UNSAFE[attack]
    one_file.replace(1, ARCHIVE, make(tmp_path))
    reader = one_file.fresh()
    with pytest.raises(IntegrityError) as caught:
        reader.model_file(1)
    assert caught.value.exit_code == ENVIRONMENT
    message = caught.value.message
    assert "model.sparkml.tar" in message and says in message and "refusing" in message
    assert list((tmp_path / "outside").iterdir()) == []
    cache = Path(getattr(reader, "cache_dir", None) or reader._cache)
    assert not list(cache.rglob("model.sparkml")) and not list(cache.rglob(".model.sparkml.*"))
