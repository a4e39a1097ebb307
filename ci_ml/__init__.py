"""ci-ml: continuous training for tabular models in GitHub CI."""

from __future__ import annotations

__version__ = "1.0.0"
