"""ci_ml/action_env.py on a real virtual environment: a reused environment is
accepted only while it is exactly what pip installed under this key."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "ci_ml" / "action_env.py"


def action_env(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: as action.yml runs it, with the runner's interpreter, isolated
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("env") / "venv"
    venv.create(folder, with_pip=True)  # pip itself: a real package with a RECORD
    assert action_env("seal", str(folder), "key-1").returncode == 0
    return folder


def site(folder: Path) -> Path:
    return next((folder / "lib").glob("python*/site-packages"))


def test_a_sealed_environment_verifies(sealed: Path) -> None:
    done = action_env("verify", str(sealed), "key-1")
    assert done.returncode == 0, done.stdout


def test_another_key_is_refused(sealed: Path) -> None:
    done = action_env("verify", str(sealed), "key-2")
    assert done.returncode == 1
    assert "another key" in done.stdout


def test_no_marker_is_refused(tmp_path: Path) -> None:
    done = action_env("verify", str(tmp_path), "key-1")
    assert (done.returncode, done.stdout.strip()) == (1, "no marker")


def _restore(path: Path, text: bytes | None) -> None:
    if text is None:
        path.unlink()
    else:
        path.write_bytes(text)


@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("pip/__init__.py", "does not match the sha256 pip recorded"),
        ("sitecustomize.py", "was not installed by pip"),
        ("poison.pth", "was not installed by pip"),
    ],
)
def test_a_poisoned_environment_is_refused(sealed: Path, relative: str, why: str) -> None:
    path = site(sealed) / relative
    before = path.read_bytes() if path.exists() else None
    path.write_bytes((before or b"") + b"\nimport os; os.system('touch /tmp/pwned')\n")
    try:
        done = action_env("verify", str(sealed), "key-1")
    finally:
        _restore(path, before)
    assert done.returncode == 1
    assert why in done.stdout and relative.split("/")[-1] in done.stdout
    assert action_env("verify", str(sealed), "key-1").returncode == 0


def test_byte_code_is_not_judged_because_it_is_never_read(sealed: Path) -> None:
    cache = site(sealed) / "pip" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "planted.cpython-311.pyc").write_bytes(b"junk")
    try:
        assert action_env("verify", str(sealed), "key-1").returncode == 0
    finally:
        (cache / "planted.cpython-311.pyc").unlink()
    action = (REPO / "action.yml").read_text(encoding="utf-8")
    assert action.count('export PYTHONPYCACHEPREFIX="${RUNNER_TEMP:-/tmp}/ci-ml-pycache"') == 2


def test_an_edited_configuration_is_refused(sealed: Path) -> None:
    config = sealed / "pyvenv.cfg"
    before = config.read_bytes()
    config.write_bytes(before.replace(b"= false", b"= true"))
    try:
        done = action_env("verify", str(sealed), "key-1")
    finally:
        config.write_bytes(before)
    assert done.returncode == 1
