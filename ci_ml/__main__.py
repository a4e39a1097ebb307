"""`python -m ci_ml`: the same command line as `ci-ml`."""

from __future__ import annotations

import sys

from ci_ml.cli import main

if __name__ == "__main__":
    sys.exit(main())
