"""`python -m ci_ml`: the same command line as `ci-ml`."""

from __future__ import annotations

from ci_ml.cli import run

if __name__ == "__main__":
    run()
