"""A model folder as one file, for registries that store one file per model.

`pack` writes an uncompressed tar whose bytes depend only on the folder's relative
paths and contents: entries sorted, mtimes 0, owner 0/0 without names, modes 0644 and
0755. The same folder always packs to the same bytes, so a rerun recognises its own
upload by the archive's sha256, and there is no compressor whose output could change.

`unpack` is the way back, for an archive nobody vouches for: every entry is checked
before a byte is written (a relative path without `..`, a regular file or a folder;
no links, devices or duplicates), files land in a fresh folder beside the target
under a temporary name, and the result is the caller's to verify and rename.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from ci_ml.errors import EnvironmentProblem, IntegrityError

SUFFIX = ".tar"
FILE_MODE = 0o644
FOLDER_MODE = 0o755
CHUNK = 1 << 20


def pack(folder: Path, archive: Path) -> Path:
    """`folder` as a deterministic tar at `archive`; refuses what is not a plain file."""
    entries = _entries(folder)
    with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in entries:
            _add(tar, folder, path)
    return archive


def _entries(folder: Path) -> list[Path]:
    """Every folder and file below `folder`, sorted by relative path."""
    found = sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix())
    for path in found:
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise EnvironmentProblem(
                f"{path}: a model folder may hold only files and folders (found a link or "
                "special file); refusing to store it"
            )
    return found


def _add(tar: tarfile.TarFile, folder: Path, path: Path) -> None:
    info = tarfile.TarInfo(path.relative_to(folder).as_posix())
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    if path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, FOLDER_MODE
        tar.addfile(info)
        return
    info.mode, info.size = FILE_MODE, path.stat().st_size
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def unpack(archive: Path, beside: Path, where: str, max_bytes: int = 0) -> Path:
    """The archive's folder, extracted into a new temporary folder next to `beside`
    (same parent, so the caller can rename it into place); IntegrityError when an
    entry is unsafe, the files add up to more than `max_bytes` (0: no limit) or the
    archive is unreadable, with nothing left behind."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))
    try:
        with tarfile.open(archive, "r:") as tar:
            members = _checked(tar.getmembers(), where)
            _within(members, max_bytes, where)
            for member in members:
                _extract(tar, member, staging)
    except (tarfile.TarError, EOFError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise IntegrityError(
            f"{where}: the model archive is unreadable ({exc}); refusing it"
        ) from exc
    except OSError as exc:  # a file where a folder should be, or a full disk
        shutil.rmtree(staging, ignore_errors=True)
        raise IntegrityError(
            f"{where}: cannot unpack the model archive ({exc}); refusing it"
        ) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _checked(members: list[tarfile.TarInfo], where: str) -> list[tarfile.TarInfo]:
    """All entries, once each refused if unsafe; none is extracted before all pass."""
    seen: set[str] = set()
    for member in members:
        name = _safe_name(member.name, where)
        if not (member.isreg() or member.isdir()):
            raise IntegrityError(
                f"{where}: the model archive holds {name!r}, a {_kind(member)}; only files "
                "and folders are allowed, refusing it"
            )
        if name in seen:
            raise IntegrityError(f"{where}: the model archive holds {name!r} twice; refusing it")
        seen.add(name)
    return members


def _within(members: list[tarfile.TarInfo], max_bytes: int, where: str) -> None:
    """The files add up to no more than the seal says the folder holds."""
    total = sum(m.size for m in members if m.isreg())
    if max_bytes and total > max_bytes:
        raise IntegrityError(
            f"{where}: the model archive holds {total} bytes of files, its seal says "
            f"{max_bytes}; refusing it"
        )


def _safe_name(name: str, where: str) -> str:
    path = PurePosixPath(name)
    if not path.parts or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise IntegrityError(
            f"{where}: the model archive holds the path {name!r}, which would land outside "
            "the model folder (absolute or with '..'); refusing it"
        )
    return path.as_posix()


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return f"link to {member.linkname!r}"
    if member.isdev():
        return "device or pipe"
    return "special entry"


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path) -> None:
    """One checked entry, written by ci-ml itself (never tarfile's extract)."""
    target = staging.joinpath(*PurePosixPath(member.name).parts)
    if member.isdir():
        target.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        return
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None  # a regular file
    with source, target.open("xb") as out:
        shutil.copyfileobj(source, out, CHUNK)
    target.chmod(stat.S_IMODE(FILE_MODE))
