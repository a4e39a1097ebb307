"""What the executors need to unpickle the models: ci_ml and the team's own modules.

A cluster has numpy, pandas, pyarrow and scikit-learn installed, but not ci_ml
nor the estimator module beside a team's ci-ml.yaml (`model.estimator:
my_models.MyTree`). Pickle refers to a class by its module, so every module
the models' objects come from that is not installed (not under the standard
library or site-packages) travels to the executors as a zip of its top-level
package's Python files. No pyspark here: the Spark engine adds the zips.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import site
import sys
import sysconfig
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ci_ml


def package_zip(root: Path, pattern: str = "*.py") -> bytes:
    """The package (or module) at `root` as a zip whose paths start at its name."""
    files = [root] if root.is_file() else sorted(p for p in root.rglob(pattern) if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in files:
            if "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(root.parent).as_posix())
    return buffer.getvalue()


def ci_ml_zip() -> bytes:
    return package_zip(Path(ci_ml.__file__).parent, "*")  # its schemas and templates too


def team_zip(objects: Iterable[Any]) -> tuple[str, bytes] | None:
    """(a name from the content, the zip) of the team's own modules the objects use."""
    roots = sorted({r for r in map(_installed_elsewhere, _modules(objects)) if r is not None})
    if not roots:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for root in roots:
            with zipfile.ZipFile(io.BytesIO(package_zip(root))) as part:
                for name in part.namelist():
                    archive.writestr(name, part.read(name))
    blob = buffer.getvalue()
    return f"ci_ml-team-{hashlib.sha256(blob).hexdigest()[:16]}.zip", blob


class _ModuleRecorder(pickle.Pickler):
    """Pickles to nowhere, noting the module of every object and class on the way."""

    def __init__(self) -> None:
        super().__init__(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        owner = obj if isinstance(obj, type) else type(obj)
        self.modules.add(getattr(owner, "__module__", None) or "")
        return None


def _modules(objects: Iterable[Any]) -> set[str]:
    recorder = _ModuleRecorder()
    for obj in objects:
        try:
            recorder.dump(obj)
        except (pickle.PicklingError, TypeError, AttributeError):
            continue  # only cloudpickle can: what it pickles by value needs no module
    return {m.partition(".")[0] for m in recorder.modules if m}


def _installed_elsewhere(top: str) -> Path | None:
    """The folder (or file) of top-level package `top` if the cluster cannot have it."""
    module = sys.modules.get(top)
    where = getattr(module, "__file__", None)
    if top in ("ci_ml", "__main__") or not where:
        return None  # ci_ml ships on its own; __main__ classes cloudpickle by value
    path = Path(where).resolve()
    if any(path.is_relative_to(p) for p in _installed_roots()):
        return None
    return path.parent if path.name == "__init__.py" else path


def _installed_roots() -> list[Path]:
    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    paths = [sysconfig.get_paths()[k] for k in keys] + [site.getusersitepackages()]
    return [Path(p).resolve() for p in paths]
