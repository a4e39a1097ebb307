"""The model bundle: how a model file is saved, named, and loaded across library versions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from filelock import FileLock
from sklearn.linear_model import LogisticRegression

from ci_ml.bundle import (
    ModelFile,
    distributions_of,
    model_libraries,
    open_model,
    plain_name,
    save_model,
)
from ci_ml.errors import ENVIRONMENT, EnvironmentProblem, IntegrityError
from tests.registry_support import spark_model_folder

WORKTREE = Path(__file__).resolve().parent.parent
OLD_SKLEARN = "1.5.2"
CROSS_VENV = Path.home() / ".cache" / "ci-ml-tests" / f"scikit-learn-{OLD_SKLEARN}"


def fitted() -> LogisticRegression:
    return LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


def reloaded(folder: Path, saved: ModelFile, libraries: dict[str, str]) -> ModelFile:
    """The model file as a card written elsewhere describes it."""
    return ModelFile.from_dict(folder, saved.to_dict(), "card", libraries)


def test_the_card_records_the_libraries_the_model_needs(tmp_path):
    saved = save_model(fitted(), tmp_path)
    import numpy
    import scipy
    import sklearn

    assert saved.libraries == {
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


def test_the_estimators_own_package_is_recorded():
    """A pipeline whose last step comes from another distribution (click stands in
    for xgboost or lightgbm): that distribution's version is recorded too."""
    from importlib.metadata import version

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    step = type("Booster", (), {"__module__": "click.boosting"})()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", step)], memory=None)
    assert model_libraries(pipeline)["click"] == version("click")


def test_each_package_maps_to_the_distributions_the_standard_library_names():
    """The targeted lookup gives, for every top-level package installed here, the very
    distributions (same order) `packages_distributions()` gives, so a model card lists
    the same libraries as before the lookup was narrowed."""
    from importlib.metadata import packages_distributions

    expected = packages_distributions()
    found = {package: list(distributions_of(package)) for package in expected}
    assert found == expected
    assert distributions_of("sklearn") == ("scikit-learn",)
    assert distributions_of("no_such_package_here") == ()


def test_a_pipelines_libraries_are_those_of_its_steps_packages():
    """The card's library list: the base libraries and each step's distribution, once."""
    from importlib.metadata import packages_distributions, version

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    step = type("Booster", (), {"__module__": "yaml.boosting"})()
    pipeline = Pipeline([("scale", StandardScaler()), ("model", step)], memory=None)
    names = ["scikit-learn", "numpy", "scipy", *packages_distributions()["yaml"]]
    assert model_libraries(pipeline) == {name: version(name) for name in dict.fromkeys(names)}


def test_a_minor_version_difference_is_a_warning_for_the_report(tmp_path):
    saved = save_model(fitted(), tmp_path)
    older = dict(saved.libraries) | {"scikit-learn": "1.0.0"}
    loaded = open_model(reloaded(tmp_path, saved, older), "the champion")
    assert list(loaded.model.predict([[0.0], [3.0]])) == [0, 1]
    (warning,) = loaded.warnings
    assert "saved with scikit-learn 1.0.0 and loaded with scikit-learn" in warning
    assert "pin scikit-learn==1.0.0 or retrain the champion" in warning


def test_a_major_version_difference_is_refused_before_loading(tmp_path):
    saved = save_model(fitted(), tmp_path)
    numpy_1 = dict(saved.libraries) | {"numpy": "1.26.4"}
    with pytest.raises(EnvironmentProblem) as caught:
        open_model(reloaded(tmp_path, saved, numpy_1), "the champion")
    message = caught.value.message
    assert caught.value.exit_code == ENVIRONMENT
    assert "saved with numpy 1.26.4, but numpy 2." in message
    assert "Install numpy==1.26.4" in message and "retrain the champion" in message


def test_a_library_that_is_not_installed_is_named(tmp_path):
    saved = save_model(fitted(), tmp_path)
    extra = dict(saved.libraries) | {"xgboost-not-here": "2.0.0"}
    with pytest.raises(EnvironmentProblem, match="xgboost-not-here is not installed here"):
        open_model(reloaded(tmp_path, saved, extra))


def test_a_write_error_while_saving_skops_fails_and_never_saves_a_pickle(tmp_path):
    """A real write error: the file-size limit a full disk is reproduced with."""
    script = (
        "import resource, signal, sys\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from ci_ml.bundle import save_model\n"
        "from ci_ml.errors import CiMlError\n"
        "model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "try:\n"
        "    save_model(model, __import__('pathlib').Path(sys.argv[1]), 'auto')\n"
        "except CiMlError as error:\n"
        "    print(error.exit_code, error.message)\n"
    )
    env = os.environ | {"PYTHONPATH": str(WORKTREE)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 ") and "model.skops: cannot write the model" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_save_are_removed(tmp_path):
    (tmp_path / "model.tmp").write_bytes(b"half a pickle")
    (tmp_path / "model.skops.tmp").write_bytes(b"half a zip")
    save_model(fitted(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.skops"]


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", ".hidden", "a\\b", "", 7])
def test_a_file_name_that_is_not_plain_is_refused(name):
    with pytest.raises(IntegrityError, match="not a plain file name"):
        plain_name(name, "card")


def test_a_plain_file_name_passes():
    assert plain_name("model.skops", "card") == "model.skops"


# -- across scikit-learn versions, for real ----------------------------------------


def old_python() -> Path:
    """A throwaway venv with an older scikit-learn (made once, kept in ~/.cache). Made
    under a lock: the crossversion tests of two xdist workers (or of two test sessions)
    would otherwise make it at once, each clearing the other's half-made venv."""
    CROSS_VENV.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{CROSS_VENV}.lock"):
        return _made_old_python()


def _made_old_python() -> Path:
    python = CROSS_VENV / "bin" / "python"
    probe = [str(python), "-c", "import sklearn, skops; print(sklearn.__version__)"]
    if python.is_file() and _ok(probe) == OLD_SKLEARN:
        return python
    venv.create(CROSS_VENV, with_pip=True, clear=True)
    install = [str(python), "-m", "pip", "install", "-q", f"scikit-learn=={OLD_SKLEARN}", "skops"]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-3:])
        pytest.skip(f"pip cannot install scikit-learn=={OLD_SKLEARN}: {tail}")
    return python


def _ok(command: list[str]) -> str | None:
    done = subprocess.run(command, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def run_old(python: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(WORKTREE)}
    return subprocess.run(
        [str(python), "-c", script, *args], capture_output=True, text=True, env=env
    )


SAVE_OLD = """
import json, sys
from pathlib import Path
from sklearn.linear_model import LogisticRegression
from ci_ml.bundle import save_model
model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
saved = save_model(model, Path(sys.argv[1]))
print(json.dumps(saved.to_dict() | {"libraries": dict(saved.libraries)}))
"""

LOAD_OLD = """
import json, sys
from pathlib import Path
from ci_ml.bundle import ModelFile, open_model
from ci_ml.errors import CiMlError
card = json.loads(Path(sys.argv[1], "card.json").read_text())
record = ModelFile.from_dict(Path(sys.argv[1]), card, "card", card["libraries"])
try:
    print("loaded", open_model(record, "the champion").warnings)
except CiMlError as error:
    print(error.exit_code, error.message)
"""


@pytest.mark.crossversion
def test_a_champion_saved_under_an_older_scikit_learn_loads_here_with_a_warning(tmp_path):
    import sklearn

    done = run_old(old_python(), SAVE_OLD, str(tmp_path))
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["libraries"]["scikit-learn"] == OLD_SKLEARN != sklearn.__version__
    loaded = open_model(ModelFile.from_dict(tmp_path, card, "card", card["libraries"]))
    assert list(loaded.model.predict([[0.0], [3.0]])) == [0, 1]
    assert any(
        f"saved with scikit-learn {OLD_SKLEARN} and loaded with scikit-learn "
        f"{sklearn.__version__}" in w
        for w in loaded.warnings
    ), loaded.warnings


@pytest.mark.crossversion
def test_a_champion_the_older_scikit_learn_cannot_load_is_a_clear_exit_3(tmp_path):
    import numpy as np
    import sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.random.RandomState(0).rand(50, 3)
    model = HistGradientBoostingClassifier(max_iter=5).fit(x, (x[:, 0] > 0.5).astype(int))
    saved = save_model(model, tmp_path)
    card = saved.to_dict() | {"libraries": dict(saved.libraries)}
    (tmp_path / "card.json").write_text(json.dumps(card))
    done = run_old(old_python(), LOAD_OLD, str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("3 "), done.stdout
    assert f"saved with scikit-learn {sklearn.__version__}" in done.stdout
    assert f"here scikit-learn is {OLD_SKLEARN}" in done.stdout
    assert f"Install scikit-learn=={sklearn.__version__}" in done.stdout
    assert "retrain the champion" in done.stdout


def test_a_spark_model_folder_is_sealed_by_every_files_path_and_content(tmp_path):
    from ci_ml.bundle import SparkPipeline, save_spark_pipeline, verify

    sealed = save_spark_pipeline(spark_model_folder(tmp_path / "written"), tmp_path / "bundle")
    assert (
        sealed.path == tmp_path / "bundle" / "model.sparkml" and sealed.format == "spark-pipeline"
    )
    again = save_spark_pipeline(spark_model_folder(tmp_path / "again"), tmp_path / "other")
    assert again.sha256 == sealed.sha256  # the same files, wherever they are
    record = ModelFile.from_dict(tmp_path / "bundle", sealed.to_dict(), "the champion pointer")
    loaded = open_model(record).model
    assert isinstance(loaded, SparkPipeline) and loaded.sha256 == sealed.sha256
    stage = sealed.path / "stages/1_LogisticRegression/data/part-00000.parquet"
    stage.rename(stage.with_name("part-00001.parquet"))  # a renamed file changes the seal
    with pytest.raises(IntegrityError, match="does not match its record"):
        verify(record)


def test_a_spark_model_folder_packs_to_one_archive_that_unpacks_only_when_sealed(tmp_path):
    from ci_ml.bundle import as_one_file, holds, save_spark_pipeline, stored_name, unpack_model

    sealed = save_spark_pipeline(spark_model_folder(tmp_path / "written"), tmp_path / "bundle")
    assert stored_name(sealed) == "model.sparkml.tar"
    (tmp_path / "scratch").mkdir()
    archive = as_one_file(sealed, tmp_path / "scratch")
    cached = ModelFile.from_dict(tmp_path / "cache", sealed.to_dict(), "the champion pointer")
    unpack_model(archive, cached, "release v1")
    assert holds(cached) and cached.path.is_dir()
    other = ModelFile.from_dict(tmp_path / "other", {**sealed.to_dict(), "sha256": "0" * 64}, "p")
    with pytest.raises(IntegrityError, match="does not match its record") as caught:
        unpack_model(archive, other, "release v1")
    assert caught.value.exit_code == ENVIRONMENT
    assert list((tmp_path / "other").iterdir()) == []  # nothing unvouched left to load
    with pytest.raises(EnvironmentProblem, match="not a Spark ML model folder"):
        save_spark_pipeline(tmp_path / "bundle", tmp_path / "elsewhere")
