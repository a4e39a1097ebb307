"""The `ci-ml` command leaves without the interpreter's teardown (ci_ml.cli.leave): what
the teardown would have done that a user can see still happens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import atexit, sys, concurrent.futures, time
from pathlib import Path
out = Path(sys.argv[1])
atexit.register(lambda: out.with_suffix(".atexit").write_text("ran"))
pool = concurrent.futures.ThreadPoolExecutor(1)
pool.submit(lambda: (time.sleep(0.3), out.with_suffix(".pool").write_text("done")))
sys.stdout.write("x" * 100_000)  # more than a pipe's buffer: must be flushed
sys.argv = ["ci-ml", *sys.argv[2:]]
from ci_ml.cli import run
run()
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", PROGRAM, str(tmp_path / "out"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_exit_code_output_atexit_and_pending_work_survive_the_quick_exit(tmp_path: Path) -> None:
    done = _run(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("x" * 100_000) and "version" in done.stdout
    assert (tmp_path / "out.atexit").read_text() == "ran"
    assert (tmp_path / "out.pool").read_text() == "done"  # the pool's work finished


def test_an_error_keeps_its_exit_code(tmp_path: Path) -> None:
    broken = tmp_path / "ci-ml.yaml"
    broken.write_text("model: [not, a, mapping]\n")
    done = _run(tmp_path, "check", "--config", str(broken))
    assert done.returncode == 2, done.stderr
    assert "ci-ml: error:" in done.stderr and "model" in done.stderr
