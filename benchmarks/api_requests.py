"""GitHub API requests of one PR run and one promotion, by registry size.

    python benchmarks/api_requests.py [--versions 1,10,50]

Seeds the fake GitHub of tests/ (answers checked against GitHub's OpenAPI description)
with N versions of examples/diabetes in the github-releases registry, then counts the
requests a pull-request `ci-ml check` (validate, train, evaluate, gate, report, comment,
status), the same PR run as workflows/pr-check.yml runs it (each stage its own `ci-ml`
process on one run folder, a new job's empty cache) and the `ci-ml promote` after it
send to the API and uploads hosts. Downloads from the storage host (a 302 away) are not
API requests and are not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.github_support import STAGES, RunRequests, measure_requests


def measure(versions: int) -> RunRequests:
    quiet = io.StringIO()
    with (
        tempfile.TemporaryDirectory(prefix="ci-ml-api-") as tmp,
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
    ):
        return measure_requests(versions, Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", default="1,10,50")
    args = parser.parse_args()
    stages = " + ".join(stage for stage, _ in STAGES)
    print(
        "| versions in the registry | `ci-ml check` (requests) "
        f"| pr-check.yml, one process per stage ({stages}) "
        "| weekly-retrain.yml's validate + drift | promotion (requests) |"
    )
    print("|---|---|---|---|---|")
    for versions in (int(v) for v in args.versions.split(",")):
        found = measure(versions)
        each = " + ".join(str(found.staged[stage]) for stage, _ in STAGES)
        staged = f"{found.staged_run} ({each})"
        retrain = f"{found.retrain['validate']} + {found.retrain['drift']}"
        print(f"| {found.versions} | {found.pr_run} | {staged} | {retrain} | {found.promotion} |")


if __name__ == "__main__":
    main()
